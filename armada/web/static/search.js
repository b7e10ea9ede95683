// Message search, in the sidebar: a "Search messages" field that searches as you type (GET /api/chat/search, newest
// first) and its results in a list named "Search results", with "Load more" while there are more. Choosing a result
// opens its room at the message. Only the latest search's answer is ever shown: a slow answer to an earlier one is
// dropped, as is any answer that comes after the field was cleared.

import { ApiError, describeError, request } from './api.js';
import { debounce, el, uniqueId } from './dom.js';
import { resultItem } from './search-results.js';

const SEARCH_DELAY_MS = 250;
const PAGE_SIZE = 20;
const MAX_QUERY_POINTS = 256; // the server's limit, in code points

export class MessageSearch {
  /**
   * @param {object} hooks choose(result) opens a result's room at its message; active(searching) runs as the field
   *   gains text (results show) or is cleared (they go)
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.ticket = 0; // the number of the latest search; an answer to an older one is dropped
    this.query = '';
    this.cursor = null;
    this.count = 0;
    this.searching = false;
    const id = uniqueId('search-messages');
    this.input = el('input', { id, type: 'search', autocomplete: 'off', placeholder: 'Search messages' });
    this.input.addEventListener('input', () => this.typed());
    this.input.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape' || !this.input.value) return;
      event.preventDefault(); // handled here, the same way in every browser
      this.input.value = '';
      this.typed();
    });
    this.status = el('p', { class: 'search-status muted', role: 'status' });
    this.list = el('ul', { class: 'search-results', 'aria-label': 'Search results' });
    this.more = el('button', { type: 'button', class: 'link-button', hidden: true }, 'Load more');
    this.more.addEventListener('click', () => this.loadMore());
    this.panel = el('div', { class: 'search-panel', hidden: true }, this.list, this.more);
    this.run = debounce((q) => this.search(q), SEARCH_DELAY_MS);
    this.element = el(
      'div',
      { class: 'message-search', role: 'search' },
      el('label', { for: id, class: 'visually-hidden' }, 'Search messages'),
      this.input,
      this.status,
      this.panel,
    );
  }

  /** The field changed: clear at once when empty, else search once typing pauses. */
  typed() {
    this.ticket += 1; // whatever is in flight answers an earlier text
    const q = this.input.value.trim();
    if (!q) {
      this.run.cancel();
      this.show([], null, '');
      this.setSearching(false);
      return;
    }
    this.setSearching(true);
    this.status.textContent = 'Searching…';
    this.run(q);
  }

  setSearching(searching) {
    if (searching === this.searching) return;
    this.searching = searching;
    this.panel.hidden = !searching;
    this.hooks.active(searching);
  }

  async search(q) {
    const ticket = ++this.ticket;
    if (Array.from(q).length > MAX_QUERY_POINTS) {
      this.show([], null, `Search for ${MAX_QUERY_POINTS} characters at most.`);
      return;
    }
    try {
      const page = await request('GET', '/api/chat/search', { query: { q, limit: PAGE_SIZE } });
      if (ticket !== this.ticket) return;
      this.query = q;
      this.show(page.items, page.next_cursor);
    } catch (failure) {
      if (ticket !== this.ticket) return;
      // A 422 here is a text with no word in it (only punctuation): nothing to search for, and no error.
      const nothing = failure instanceof ApiError && failure.status === 422;
      this.show([], null, nothing ? 'Type a word to search for.' : describeError(failure));
    }
  }

  /** The next page of the same search, after the results shown; focus moves to the first new one. */
  async loadMore() {
    const ticket = this.ticket;
    this.more.disabled = true;
    try {
      const page = await request('GET', '/api/chat/search', {
        query: { q: this.query, limit: PAGE_SIZE, cursor: this.cursor },
      });
      if (ticket !== this.ticket) return;
      const items = page.items.map((result) => resultItem(result, this.hooks.choose));
      this.list.append(...items);
      this.count += items.length;
      this.cursor = page.next_cursor;
      this.more.hidden = !this.cursor;
      this.status.textContent = this.summary();
      items[0]?.querySelector('button').focus();
    } catch (failure) {
      if (ticket === this.ticket) this.status.textContent = describeError(failure);
    } finally {
      this.more.disabled = false;
    }
  }

  /** Replace the results with `results`; `status` overrides the count said in the status line. */
  show(results, cursor, status = null) {
    this.list.replaceChildren(...results.map((result) => resultItem(result, this.hooks.choose)));
    this.count = results.length;
    this.cursor = cursor;
    this.more.hidden = !cursor;
    this.status.textContent = status ?? this.summary();
  }

  summary() {
    if (!this.count) return 'No messages found';
    const more = this.cursor ? ', more below' : '';
    return `${this.count} message${this.count === 1 ? '' : 's'} found${more}`;
  }
}

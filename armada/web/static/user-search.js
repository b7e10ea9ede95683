// Finding people for a dialog: the "Search users" field (search as you type) and the list of people it finds.

import { request } from './api.js';
import { showError } from './dialog.js';
import { debounce, el, reconcile, uniqueId } from './dom.js';
import { state } from './store.js';

const SEARCH_DELAY_MS = 200;
const MIN_SEARCH_CHARS = 2; // the server's minimum (GET /api/users?q=)

/**
 * A "Search users" field whose results (other users only) are drawn by `renderResults(users, typed)`; `typed` is
 * false while the search is too short to run. Searches as you type (a prefix of a word of a name, or a whole
 * email: at least MIN_SEARCH_CHARS); a slow answer to an older query never overwrites a newer one.
 */
export function userSearch(renderResults, error) {
  const id = uniqueId('search-users');
  const input = el('input', {
    id,
    type: 'search',
    autocomplete: 'off',
    placeholder: 'Name or email address',
    'aria-describedby': `${id}-hint`,
  });
  const hint = el(
    'p',
    { class: 'hint', id: `${id}-hint` },
    `Type at least ${MIN_SEARCH_CHARS} characters of a name, or a whole email address.`,
  );
  let latest = 0;
  const run = async () => {
    const ticket = ++latest;
    const q = input.value.trim();
    if (q.length < MIN_SEARCH_CHARS) {
      error.textContent = '';
      renderResults([], false);
      return;
    }
    try {
      const page = await request('GET', '/api/users', { query: { q, limit: 20 } });
      if (ticket !== latest) return;
      for (const user of page.items) state.names.set(user.id, user.display_name);
      error.textContent = '';
      renderResults(
        page.items.filter((user) => user.id !== state.me.id),
        true,
      );
    } catch (failure) {
      if (ticket === latest) showError(error, failure);
    }
  };
  input.addEventListener('input', debounce(run, SEARCH_DELAY_MS));
  run();
  return el('div', { class: 'field' }, el('label', { for: id }, 'Search users'), input, hint);
}

/**
 * Show `users` in `list`, one item each made by `makeItem(user)` and kept by user id, so a new search answer
 * leaves the items still listed untouched (their state, focus, and anything a click is about to reach).
 */
export function renderPeople(list, items, users, makeItem, typed) {
  const nodes = users.map((user) => {
    if (!items.has(user.id)) items.set(user.id, makeItem(user));
    return items.get(user.id);
  });
  if (!nodes.length && typed) nodes.push(el('li', { class: 'muted' }, 'No one found.'));
  reconcile(list, nodes);
}

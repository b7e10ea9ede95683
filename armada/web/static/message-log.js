// The open room's message log (role "log", in its scroller): the history loaded from the server (the newest page,
// older pages as the reader scrolls up, a catch-up after a gap in the connection), its messages drawn in order with
// day separators, and the scroll position, which follows new messages while the reader is at the bottom. Opened at
// one message (a search result), it holds a stretch of history around it and loads newer pages as the reader
// scrolls down, until it reaches the newest, where live messages take over.

import { request } from './api.js';
import { el, reconcile } from './dom.js';
import { dayKey } from './format.js';
import { daySeparator } from './message-view.js';
import { state } from './store.js';
import { Timeline, compareMessages, newerVersion } from './timeline.js';

const PAGE_SIZE = 50;
const CATCH_UP_PAGE = 100;
const LOAD_OLDER_WITHIN_PX = 150; // start fetching older (or newer) messages this close to the top (bottom)
const TARGET_MARK_MS = 4000; // how long a message opened from a search stays marked
const BOTTOM_SLACK_PX = 80; // "at the bottom" for auto-scrolling, allowing for rounding and a partial line

export class MessageLog {
  /**
   * @param {() => object} room the open room
   * @param {object} hooks draw(article, message) fills a message's article; kept(message, added) runs once a message
   *   is stored and drawn, for whatever else shows it; arrived(message) takes what a catch-up brings (the pane
   *   routes it like any other message); showError(failure); newest() runs when the log, opened at a message, has
   *   loaded up to the newest
   */
  constructor(room, hooks) {
    this.room = room;
    this.hooks = hooks;
    this.timeline = new Timeline();
    this.articles = new Map(); // message id -> <article>
    this.separators = new Map(); // day key -> separator element
    this.olderCursor = null;
    // Opened at a message: the id of the newest message held, newer pages following it (`after=`); null once the
    // newest is held. Meanwhile new messages arriving live wait in `waiting`, since the ones between are not held.
    this.newerAfter = null;
    this.waiting = new Map();
    this.generation = 0; // which loaded stretch of history a page in flight belongs to; a jump starts a new one
    this.historyLoaded = false;
    this.loadingOlder = false;
    this.loadingNewer = false;
    this.atBottom = true;
    this.historyStatus = el('p', { class: 'history-status muted' });
    this.list = el('div', { role: 'log', 'aria-label': 'Messages', class: 'log' });
    this.element = el('div', { class: 'scroller' }, this.historyStatus, this.list);
    this.element.addEventListener('scroll', () => this.handleScroll());
  }

  // ---- history ------------------------------------------------------------------------------------------

  /** The newest page; messages that arrived live while it loaded are kept, each in its place. */
  async loadInitial() {
    this.historyStatus.textContent = 'Loading messages…';
    const generation = ++this.generation;
    const page = await request('GET', `/api/chat/rooms/${this.room().id}/messages`, { query: { limit: PAGE_SIZE } });
    if (generation !== this.generation) return;
    if (this.newerAfter) this.timeline.clear(); // the stretch held is not next to the newest page
    this.timeline.replaceWith(page.items);
    this.olderCursor = page.next_cursor;
    this.historyLoaded = true;
    this.reachedNewest();
    this.render();
    this.scrollToBottom();
    await this.fillViewport();
  }

  /**
   * The history around a message (`around=`; for a thread reply the server answers the history around its root),
   * drawn with `targetId` in view. Answers that message's article, or null if the answer does not hold it.
   */
  async loadAround(messageId, targetId = messageId) {
    this.historyStatus.textContent = 'Loading messages…';
    const generation = ++this.generation;
    this.newerAfter ||= messageId; // from now on, live messages wait until the newest is reached
    const page = await request('GET', `/api/chat/rooms/${this.room().id}/messages`, {
      query: { around: messageId, limit: PAGE_SIZE },
    });
    if (generation !== this.generation) return null;
    this.timeline.clear();
    for (const message of page.items) this.timeline.store(message);
    this.olderCursor = page.next_cursor;
    this.newerAfter = this.timeline.newest()?.id ?? messageId;
    this.historyLoaded = true;
    this.atBottom = false;
    this.render();
    return this.reveal(targetId);
  }

  /** Scroll a held message into view and mark it for a moment; answers its article (null if not held). */
  reveal(messageId) {
    const article = this.timeline.get(messageId) && this.articles.get(messageId);
    if (!article) return null;
    article.scrollIntoView({ block: 'center' });
    article.classList.add('target');
    article.tabIndex = -1; // focusable from script only, so the reader's place (and a screen reader) moves there
    article.focus({ preventScroll: true });
    clearTimeout(this.targetTimer);
    this.targetTimer = setTimeout(() => article.classList.remove('target'), TARGET_MARK_MS);
    this.handleScroll(); // the stretch may end within the window: load what is next to it
    return article;
  }

  /** Newer messages with `after=`, while the stretch held is short of the newest. */
  async loadNewer() {
    if (!this.newerAfter || this.loadingNewer) return;
    this.loadingNewer = true;
    const generation = this.generation;
    try {
      const page = await request('GET', `/api/chat/rooms/${this.room().id}/messages`, {
        query: { limit: PAGE_SIZE, after: this.newerAfter },
      });
      if (generation !== this.generation) return;
      for (const message of page.items) this.timeline.store(message);
      this.newerAfter = page.next_cursor ? this.timeline.newest()?.id : null;
      if (!this.newerAfter) this.reachedNewest();
      this.render();
    } finally {
      this.loadingNewer = false;
    }
    this.handleScroll(); // a short page may leave the bottom in view
  }

  /** The newest message is held: what arrived live meanwhile joins it, and live messages append from now on. */
  reachedNewest() {
    const wasAround = Boolean(this.newerAfter);
    this.newerAfter = null;
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const message of waiting) this.upsert(message);
    if (wasAround) this.hooks.newest();
  }

  /** Older messages with the `before` cursor, keeping what is on screen where it is. */
  async loadOlder() {
    if (!this.olderCursor || this.loadingOlder) return;
    this.loadingOlder = true;
    this.historyStatus.textContent = 'Loading older messages…';
    const generation = this.generation;
    try {
      const page = await request('GET', `/api/chat/rooms/${this.room().id}/messages`, {
        query: { limit: PAGE_SIZE, before: this.olderCursor },
      });
      if (generation !== this.generation) return;
      const fresh = page.items.filter((m) => !this.timeline.get(m.id));
      const heightBefore = this.element.scrollHeight;
      for (const message of fresh) this.timeline.store(message);
      this.olderCursor = page.next_cursor;
      this.render();
      this.element.scrollTop += this.element.scrollHeight - heightBefore;
    } finally {
      this.loadingOlder = false;
      this.renderHistoryStatus();
    }
  }

  /** With a tall window the first page may not fill it, and then no scroll event would ever load more. */
  async fillViewport() {
    while (this.olderCursor && this.element.scrollHeight <= this.element.clientHeight) await this.loadOlder();
  }

  handleScroll() {
    const { scrollTop, scrollHeight, clientHeight } = this.element;
    const below = scrollHeight - scrollTop - clientHeight;
    this.atBottom = below < BOTTOM_SLACK_PX && !this.newerAfter;
    if (!this.historyLoaded) return;
    if (scrollTop < LOAD_OLDER_WITHIN_PX) this.loadOlder().catch((e) => this.hooks.showError(e));
    if (below < LOAD_OLDER_WITHIN_PX) this.loadNewer().catch((e) => this.hooks.showError(e));
  }

  /**
   * After a reconnect: everything created, edited or deleted since the gap's anchor (see Timeline), in its final
   * state, following `next_cursor` until it is null; each message goes to its place in the room's order. Without a
   * message held at the drop, reload the newest page instead. `dropsAtConnect` is the count of drops when this
   * catch-up's connection opened; if it has dropped since, or this fails, the next catch-up starts from the same
   * anchor.
   */
  async catchUp(dropsAtConnect = this.timeline.drops) {
    this.timeline.openGap();
    const { anchor } = this.timeline.gap;
    const changed = [];
    if (anchor) {
      let cursor = anchor.id;
      while (cursor) {
        const page = await request('GET', `/api/chat/rooms/${this.room().id}/messages`, {
          query: { limit: CATCH_UP_PAGE, changed_after: cursor },
        });
        for (const message of page.items) this.hooks.arrived(message);
        changed.push(...page.items);
        cursor = page.next_cursor;
      }
    } else {
      await this.loadInitial();
    }
    this.timeline.catchUpDone(dropsAtConnect);
    return changed;
  }

  // ---- messages -----------------------------------------------------------------------------------------

  /** A message of the timeline arrived or changed: add it at its place or replace our copy, and draw it. */
  upsert(message) {
    if (this.newerAfter && !this.timeline.get(message.id) && this.isNewerThanHeld(message)) {
      const waiting = this.waiting.get(message.id);
      this.waiting.set(message.id, waiting ? newerVersion(waiting, message) : message);
      // One's own new message: go to the newest, where it shows.
      if (message.sender_id === state.me.id && !waiting) this.loadInitial().catch((e) => this.hooks.showError(e));
      return;
    }
    const stickToBottom = this.atBottom || message.sender_id === state.me.id;
    const added = this.timeline.store(message);
    const kept = this.timeline.get(message.id);
    this.drawArticle(kept);
    if (!added) for (const reply of this.timeline.updateQuotesOf(kept)) this.drawArticle(reply);
    this.hooks.kept(kept, added);
    this.render();
    if (added && stickToBottom) this.scrollToBottom();
  }

  isNewerThanHeld(message) {
    const newest = this.timeline.newest();
    return !newest || compareMessages(newest, message) < 0;
  }

  /** Draw every message again (names or the room's rules changed). */
  redrawAll() {
    for (const message of this.timeline.messages) this.drawArticle(message);
  }

  /** (Re)draw one message's article in place. */
  drawArticle(message) {
    let article = this.articles.get(message.id);
    if (!article) {
      article = el('article', { class: 'message', 'data-message-id': message.id });
      this.articles.set(message.id, article);
    }
    this.hooks.draw(article, message);
    return article;
  }

  // ---- rendering ----------------------------------------------------------------------------------------

  /** Put the articles and day separators in order; nodes already in place are left alone. */
  render() {
    const nodes = [];
    let previousDay = null;
    for (const message of this.timeline.messages) {
      const created = new Date(message.created_at);
      const day = dayKey(created);
      if (day !== previousDay) {
        nodes.push(this.separator(day, created));
        previousDay = day;
      }
      nodes.push(this.articles.get(message.id) || this.drawArticle(message));
    }
    reconcile(this.list, nodes);
    this.renderHistoryStatus();
  }

  renderHistoryStatus() {
    if (this.loadingOlder) return;
    if (!this.historyLoaded) return;
    let text = ''; // more history above: nothing to say
    if (!this.olderCursor && this.timeline.messages.length) text = 'Beginning of the conversation';
    else if (!this.olderCursor) text = 'No messages yet. Say hello!';
    this.historyStatus.textContent = text;
  }

  separator(day, date) {
    if (!this.separators.has(day)) this.separators.set(day, daySeparator(date));
    return this.separators.get(day);
  }

  scrollToBottom() {
    this.element.scrollTop = this.element.scrollHeight;
    this.atBottom = true;
  }

  /** Something in the log grew (an image loaded): stay at the bottom if we were there. */
  keepBottom() {
    if (this.atBottom) this.scrollToBottom();
  }
}

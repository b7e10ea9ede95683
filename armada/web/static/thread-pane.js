// The thread pane (role complementary, named "Thread"): a root message, its replies (live), and a composer of its
// own whose messages go to the thread, and which edits its replies. The main timeline shows only the root, with an
// "N replies" button. Messages are drawn as in the timeline (message-view.js), with the actions that apply here.

import { describeError, request } from './api.js';
import { Composer } from './composer.js';
import { el } from './dom.js';
import { drawMessage, replyCountLabel } from './message-view.js';
import { keepMine } from './reactions.js';
import { newerVersion } from './timeline.js';

const PAGE_SIZE = 100;

/** Server timestamps share one ISO format, so they sort as strings; the id breaks a tie. */
function compare(a, b) {
  return a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : 1;
}

export class ThreadPane {
  /**
   * @param {object} room
   * @param {object} root the thread's root message
   * @param {object} hooks send(draft), react(message, emoji, on), edit(message, content, mentions),
   *   remove(message, showError), canDelete(message), members(), read() (the thread was marked read), close()
   */
  constructor(room, root, hooks) {
    this.room = room;
    this.root = root;
    this.hooks = hooks;
    this.replies = new Map(); // id -> message
    this.articles = new Map(); // id -> <article>
    this.build();
  }

  build() {
    this.rootView = el('div', { class: 'thread-root' });
    this.log = el('div', { role: 'log', 'aria-label': 'Thread replies', class: 'log thread-log' });
    this.status = el('p', { class: 'muted history-status' }, 'Loading replies…');
    this.composer = new Composer({
      label: 'Thread reply',
      members: this.hooks.members,
      onSend: (draft) => this.hooks.send({ ...draft, threadRootId: this.root.id }),
      onEdit: (message, content, mentions) => this.hooks.edit(message, content, mentions),
      onTyping: () => {},
    });
    const showError = (failure) => this.showError(failure);
    // The root's own actions (edit, delete, pin, ...) are the timeline's; here it takes reactions only.
    const shared = {
      react: (message, emoji, on) => this.hooks.react(message, emoji, on),
      current: (message) => this.get(message.id) || message,
      receipt: () => null,
      imageLoaded: () => {},
      showError,
      canDelete: () => false,
    };
    this.rootHooks = shared;
    this.replyHooks = {
      ...shared,
      edit: (message) => this.composer.startEdit(message),
      remove: (message) => this.hooks.remove(message, showError),
      canDelete: (message) => this.hooks.canDelete(message),
    };
    const close = el('button', { type: 'button', class: 'link-button' }, 'Close thread');
    close.addEventListener('click', () => this.hooks.close());
    this.element = el(
      'aside',
      { class: 'thread-pane', role: 'complementary', 'aria-label': 'Thread' },
      el('header', { class: 'thread-header' }, el('h3', {}, 'Thread'), close),
      el('div', { class: 'scroller thread-scroller' }, this.rootView, this.status, this.log),
      this.composer.element,
    );
    this.renderRoot();
  }

  /** The replies so far (newest page); replies that arrived live meanwhile are kept. */
  async load() {
    try {
      const page = await request('GET', `/api/chat/rooms/${this.room.id}/messages`, {
        query: { thread_root_id: this.root.id, limit: PAGE_SIZE },
      });
      for (const message of page.items) if (!this.replies.has(message.id)) this.replies.set(message.id, message);
      this.status.textContent = page.items.length || this.replies.size ? '' : 'No replies yet.';
      this.render();
      this.markRead();
    } catch (failure) {
      this.status.textContent = describeError(failure);
    }
  }

  get(id) {
    return this.root.id === id ? this.root : this.replies.get(id);
  }

  /** A reply of this thread arrived or changed (deletion is final, else the later edit wins). */
  upsert(message) {
    if (message.thread_root_id !== this.root.id) return;
    const held = this.replies.get(message.id);
    this.replies.set(message.id, held ? newerVersion(held, keepMine(held, message)) : message);
    const kept = this.replies.get(message.id);
    this.composer.messageChanged(kept); // a reply being edited here may have been deleted
    this.status.textContent = '';
    this.renderReply(kept);
    this.render();
    this.markRead();
  }

  /** An open pane shows every reply: read the thread up to its newest (the server's `unread_replies`). */
  markRead() {
    const newest = [...this.replies.values()].sort(compare).at(-1);
    if (!newest || newest.id === this.readUpTo) return;
    this.readUpTo = newest.id;
    request('POST', `/api/chat/threads/${this.root.id}/read`, { body: { up_to: newest.id } })
      .then(() => this.hooks.read())
      .catch(() => {
        this.readUpTo = null; // read again with the next reply
      });
  }

  /** The root changed (edited, reacted to, its thread summary, deleted). */
  setRoot(message) {
    this.root = newerVersion(this.root, keepMine(this.root, message));
    this.renderRoot();
  }

  /** Apply `fn` to the root or a reply held here. */
  change(id, fn) {
    if (id === this.root.id) this.setRoot(fn(this.root));
    else if (this.replies.has(id)) this.upsert(fn(this.replies.get(id)));
  }

  markDeleted(id) {
    const held = id === this.root.id ? this.root : this.replies.get(id);
    if (!held) return;
    const tombstone = { ...held, is_deleted: true, content: null, media_url: null, reactions: [], mentions: [] };
    this.change(id, () => tombstone);
  }

  render() {
    const ordered = [...this.replies.values()].sort(compare);
    this.log.replaceChildren(...ordered.map((m) => this.articles.get(m.id) || this.renderReply(m)));
  }

  renderRoot() {
    this.rootArticle ||= el('article', { class: 'message thread-root-message' });
    drawMessage(this.rootArticle, this.root, this.rootHooks).append(
      el('p', { class: 'muted thread-count' }, replyCountLabel(this.root.thread)),
    );
    if (!this.rootArticle.isConnected) this.rootView.replaceChildren(this.rootArticle);
  }

  renderReply(message) {
    let article = this.articles.get(message.id);
    if (!article) {
      article = el('article', { class: 'message', 'data-message-id': message.id });
      this.articles.set(message.id, article);
    }
    return drawMessage(article, message, this.replyHooks);
  }

  /** Draw every message again (names or the room's admins changed). */
  redrawAll() {
    this.renderRoot();
    for (const message of this.replies.values()) this.renderReply(message);
  }

  showError(failure) {
    this.composer.error.textContent = typeof failure === 'string' ? failure : describeError(failure);
  }

  focus() {
    this.composer.focus();
  }

  /**
   * Scroll a reply into view, mark it for a moment and move focus to it (a search result). A reply older than
   * the newest page is loaded with the replies around it first (`around=` within the thread).
   */
  async reveal(id) {
    if (!this.replies.has(id)) {
      try {
        const page = await request('GET', `/api/chat/rooms/${this.room.id}/messages`, {
          query: { thread_root_id: this.root.id, around: id, limit: PAGE_SIZE },
        });
        for (const message of page.items) if (!this.replies.has(message.id)) this.replies.set(message.id, message);
        this.render();
      } catch (failure) {
        this.showError(failure);
        return;
      }
    }
    const article = this.replies.has(id) && this.articles.get(id);
    if (!article) return;
    article.scrollIntoView({ block: 'center' });
    article.classList.add('target');
    article.tabIndex = -1;
    article.focus({ preventScroll: true });
    setTimeout(() => article.classList.remove('target'), 4000);
  }

  destroy() {
    this.composer.destroy();
  }
}

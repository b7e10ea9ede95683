// The thread pane (role complementary, named "Thread"): a root message, its replies (live), and a composer of its
// own whose messages go to the thread. The main timeline shows only the root, with an "N replies" button.

import { describeError, request } from './api.js';
import { Composer } from './composer.js';
import { el, keepFocus } from './dom.js';
import { timeLabel } from './format.js';
import { keepMine, openEmojiPicker, reactionBar } from './reactions.js';
import { nameOf } from './store.js';
import { newerVersion } from './timeline.js';

const PAGE_SIZE = 100;

/** "1 reply", "3 replies". */
export function replyCountLabel(thread) {
  const count = thread?.reply_count || 0;
  return `${count} ${count === 1 ? 'reply' : 'replies'}`;
}

/** The root's "N replies" button in the main timeline, or null while it has none. */
export function threadSummaryButton(message, onOpen) {
  if (!message.thread?.reply_count) return null;
  const label = replyCountLabel(message.thread);
  return el('button', { type: 'button', class: 'link-button thread-summary', onclick: onOpen }, label);
}

/** Server timestamps share one ISO format, so they sort as strings; the id breaks a tie. */
function compare(a, b) {
  return a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : 1;
}

export class ThreadPane {
  /**
   * @param {object} room
   * @param {object} root the thread's root message
   * @param {object} hooks send(draft), react(message, emoji, on), body(message) -> nodes, members(),
   *   read() (the thread was marked read), close()
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
      onEdit: async () => {},
      onTyping: () => {},
    });
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
    this.status.textContent = '';
    this.renderReply(this.replies.get(message.id));
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
    this.article(this.root, this.rootArticle).append(
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
    return this.article(message, article);
  }

  /** Fill `article` with a message: sender, time, text (mentions marked), media, reactions and "React". */
  article(message, article) {
    const created = new Date(message.created_at);
    const header = el(
      'header',
      { class: 'message-header' },
      el('span', { class: 'sender' }, nameOf(message.sender_id)),
      ' ',
      el('time', { datetime: message.created_at, title: created.toLocaleString() }, timeLabel(created)),
    );
    const parts = [header];
    if (message.is_deleted) {
      parts.push(el('p', { class: 'tombstone' }, 'This message was deleted'));
    } else {
      parts.push(...this.hooks.body(message));
      parts.push(reactionBar(message, (emoji, on) => this.hooks.react(message, emoji, on)));
      const react = el('button', { type: 'button' }, 'React');
      react.addEventListener('click', () =>
        openEmojiPicker(
          () => (this.articles.get(message.id) || this.rootView).querySelector('.react-button')?.focus(),
          (emoji) => this.hooks.react(message, emoji, true),
        ),
      );
      react.classList.add('react-button');
      const footer = el('footer', { class: 'message-footer' }, react);
      if (message.is_edited) footer.append(el('span', { class: 'edited' }, '(edited)'));
      parts.push(footer);
    }
    keepFocus(article, () => article.replaceChildren(...parts.filter(Boolean)));
    return article;
  }

  focus() {
    this.composer.focus();
  }

  destroy() {
    this.composer.destroy();
  }
}

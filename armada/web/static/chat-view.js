// The open room: header, the message log (role "log", one role "article" per message, day separators,
// infinite scroll back through history), the typing indicator and the composer.

import { request } from './api.js';
import { Composer } from './composer.js';
import { el, keepFocus, reconcile, safeUrl } from './dom.js';
import { openEditHistory } from './edit-history.js';
import { dayKey, dayLabel, fileSize, messageSummary, timeLabel } from './format.js';
import { linkify } from './links.js';
import { mentionText } from './mentions.js';
import { PinsPanel, canPin, pinnedTag, setPinned } from './pins.js';
import { keepMine, openEmojiPicker, reactionBar, setReaction } from './reactions.js';
import { isAdmin, nameOf, roomTitle, state } from './store.js';
import { ThreadPane, threadSummaryButton } from './thread-pane.js';

const PAGE_SIZE = 50;
const CATCH_UP_PAGE = 100;
const LOAD_OLDER_WITHIN_PX = 150; // start fetching older messages this close to the top
const BOTTOM_SLACK_PX = 80; // "at the bottom" for auto-scrolling, allowing for rounding and a partial line
const TYPING_TIMEOUT_MS = 6000; // forget a typist whose "stopped" never arrived (e.g. they went offline)

/** Which of two versions of a message to keep: deletion is final; otherwise the later edit wins. */
function newerVersion(held, incoming) {
  if (held.is_deleted) return held;
  if (incoming.is_deleted) return incoming;
  if ((held.edited_at || '') > (incoming.edited_at || '')) return held;
  return incoming;
}

/**
 * When a message was sent, in microseconds: the server's created_at has up to six decimals, Date.parse keeps three,
 * and two messages of one room can be sent within a millisecond.
 */
function sentAt(message) {
  const micros = /\.\d{3}(\d{1,3})/.exec(message.created_at)?.[1] ?? '';
  return Date.parse(message.created_at) * 1000 + Number(micros.padEnd(3, '0'));
}

/** A room's order: by created_at, which the server stamps at send time, then by id for a tie. */
function compareMessages(a, b) {
  return sentAt(a) - sentAt(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export class ChatPane {
  /**
   * @param {object} room
   * @param {object} actions callbacks into the app: send, edit, remove, forward, typing, openSettings, leave, back
   */
  constructor(room, actions) {
    this.room = room;
    this.actions = actions;
    this.messages = []; // in the room's order (compareMessages), oldest first, whatever order they arrived in
    this.byId = new Map();
    this.articles = new Map(); // message id -> <article>
    this.receipts = new Map(); // message id -> receipt <span> (own messages)
    this.separators = new Map(); // day key -> separator element
    this.readers = new Map(); // message id -> Set of user ids seen reading it (messages_read events)
    this.typists = new Map(); // user id -> timeout that forgets them
    this.olderCursor = null;
    this.lastMarked = null; // the newest message id already marked read, so repeats cost nothing
    this.gap = null; // {anchor}: events may have been missed after `anchor` (null: none held), until a catch-up
    this.drops = 0; // lost connections so far: one since a catch-up's connection opened leaves its gap open
    this.historyLoaded = false;
    this.loadingOlder = false;
    this.atBottom = true;
    this.thread = null; // the open ThreadPane, if any
    this.build();
  }

  build() {
    this.title = el('h2', { class: 'room-title' });
    this.subtitle = el('p', { class: 'room-subtitle muted' });
    this.headerActions = el('div', { class: 'room-actions' });
    // Shown by the stylesheet only on narrow screens, where the room list and the conversation take turns.
    const goBack = () => this.actions.back();
    const back = el('button', { type: 'button', class: 'back-button', onclick: goBack }, 'Back to rooms');
    this.historyStatus = el('p', { class: 'history-status muted' });
    this.log = el('div', { role: 'log', 'aria-label': 'Messages', class: 'log' });
    this.scroller = el('div', { class: 'scroller' }, this.historyStatus, this.log);
    this.typingLine = el('p', { class: 'typing-indicator', 'aria-live': 'polite' });
    this.composer = new Composer({
      onSend: (draft) => this.actions.send(this.room, draft),
      onEdit: (message, content) => this.actions.edit(message, content),
      onTyping: (isTyping) => this.actions.typing(this.room, isTyping),
      members: () => this.room.members || [],
    });
    this.pins = new PinsPanel(
      () => this.room,
      (message) => this.upsert(message),
    );
    this.element = el(
      'section',
      { class: 'chat-pane', 'aria-label': 'Conversation' },
      el(
        'header',
        { class: 'room-header' },
        back,
        el('div', { class: 'room-heading' }, this.title, this.subtitle),
        this.headerActions,
      ),
      this.pins.element,
      this.scroller,
      this.typingLine,
      this.composer.element,
    );
    this.scroller.addEventListener('scroll', () => this.handleScroll());
    this.renderHeader();
  }

  // ---- header -------------------------------------------------------------------------------------------

  /** The room changed (renamed, members, admins): redraw what depends on it. */
  updateRoom(room) {
    this.room = room;
    this.renderHeader();
    this.refreshReceipts();
    // Names may have arrived with the room (a newcomer's first message): refresh the sender labels.
    for (const message of this.messages) this.renderArticle(message);
  }

  renderHeader() {
    const room = this.room;
    this.title.textContent = roomTitle(room);
    const count = room.members?.length || 0;
    const members = room.room_type === 'group' ? `${count} member${count === 1 ? '' : 's'}` : 'Direct message';
    this.subtitle.textContent = room.description ? `${members} · ${room.description}` : members;
    const buttons = [this.pins.button];
    if (room.room_type === 'group' && isAdmin(room)) {
      const openSettings = () => this.actions.openSettings(this.room);
      buttons.push(el('button', { type: 'button', onclick: openSettings }, 'Room settings'));
    }
    if (room.room_type === 'group') {
      const leave = () => this.actions.leave(this.room);
      buttons.push(el('button', { type: 'button', class: 'danger', onclick: leave }, 'Leave room'));
    }
    this.headerActions.replaceChildren(...buttons);
  }

  // ---- history ------------------------------------------------------------------------------------------

  /** The newest page; messages that arrived live while it loaded are kept, each in its place. */
  async loadInitial() {
    this.historyStatus.textContent = 'Loading messages…';
    const page = await request('GET', `/api/chat/rooms/${this.room.id}/messages`, { query: { limit: PAGE_SIZE } });
    const pageIds = new Set(page.items.map((m) => m.id));
    const live = this.messages.filter((m) => !pageIds.has(m.id));
    this.messages = [];
    this.byId.clear();
    for (const message of [...page.items, ...live]) this.store(message);
    this.olderCursor = page.next_cursor;
    this.historyLoaded = true;
    this.render();
    this.scrollToBottom();
    await this.fillViewport();
  }

  /** Older messages with the `before` cursor, keeping what is on screen where it is. */
  async loadOlder() {
    if (!this.olderCursor || this.loadingOlder) return;
    this.loadingOlder = true;
    this.historyStatus.textContent = 'Loading older messages…';
    try {
      const page = await request('GET', `/api/chat/rooms/${this.room.id}/messages`, {
        query: { limit: PAGE_SIZE, before: this.olderCursor },
      });
      const fresh = page.items.filter((m) => !this.byId.has(m.id));
      const heightBefore = this.scroller.scrollHeight;
      for (const message of fresh) this.store(message);
      this.olderCursor = page.next_cursor;
      this.render();
      this.scroller.scrollTop += this.scroller.scrollHeight - heightBefore;
    } finally {
      this.loadingOlder = false;
      this.renderHistoryStatus();
    }
  }

  /** With a tall window the first page may not fill it, and then no scroll event would ever load more. */
  async fillViewport() {
    while (this.olderCursor && this.scroller.scrollHeight <= this.scroller.clientHeight) await this.loadOlder();
  }

  handleScroll() {
    const { scrollTop, scrollHeight, clientHeight } = this.scroller;
    this.atBottom = scrollHeight - scrollTop - clientHeight < BOTTOM_SLACK_PX;
    if (scrollTop < LOAD_OLDER_WITHIN_PX && this.historyLoaded) this.loadOlder().catch((e) => this.showError(e));
  }

  // ---- reconnection -------------------------------------------------------------------------------------

  /**
   * The connection dropped: events sent from now on may never reach us, until a catch-up after the next connection
   * has run. Messages that arrive before then (live after the re-join, or a send's answer) are newer than the gap,
   * so the catch-up must start from what we held now, not from the newest message held when it runs.
   */
  connectionLost() {
    this.drops += 1;
    this.openGap();
  }

  /**
   * A connection opened, before any room is re-joined: a gap opens here at the latest (the drop may have gone
   * unseen). Answers the count of drops so far, for the catch-up to tell whether this connection held throughout.
   */
  connectionOpened() {
    this.openGap();
    return this.drops;
  }

  /**
   * Remember the newest message held as the gap's anchor, unless a gap is open already: its anchor is older, and
   * nothing after it is known to be complete until a catch-up from it has finished.
   */
  openGap() {
    if (!this.gap) this.gap = { anchor: this.newest() };
  }

  /**
   * After a reconnect: everything created, edited or deleted since the gap's anchor, in its final state, following
   * `next_cursor` until it is null; each message goes to its place in the room's order. Without a message held at
   * the drop, reload the newest page instead. The gap closes only if the connection has not dropped since it opened
   * (`dropsAtConnect` drops then): live events cover what came after this catch-up's last page only while the
   * connection holds. Otherwise, or if this fails, the next catch-up starts from the same anchor.
   */
  async catchUp(dropsAtConnect = this.drops) {
    this.openGap();
    const { anchor } = this.gap;
    const changed = [];
    if (anchor) {
      let cursor = anchor.id;
      while (cursor) {
        const page = await request('GET', `/api/chat/rooms/${this.room.id}/messages`, {
          query: { limit: CATCH_UP_PAGE, changed_after: cursor },
        });
        for (const message of page.items) this.upsert(message);
        changed.push(...page.items);
        cursor = page.next_cursor;
      }
    } else {
      await this.loadInitial();
    }
    if (this.drops === dropsAtConnect) this.gap = null;
    return changed;
  }

  // ---- messages -----------------------------------------------------------------------------------------

  /**
   * Keep a message: a new one at its place in the room's order (a catch-up can bring one older than live messages
   * already shown), a known one as the newer of the two versions. True if it was new.
   */
  store(message) {
    const held = this.byId.get(message.id);
    if (held) {
      const kept = newerVersion(held, keepMine(held, message));
      this.messages[this.messages.indexOf(held)] = kept;
      this.byId.set(message.id, kept);
      return false;
    }
    this.messages.splice(this.placeOf(message), 0, message);
    this.byId.set(message.id, message);
    return true;
  }

  /** The index a new message goes to: after every message held that comes before it (a binary search). */
  placeOf(message) {
    let low = 0;
    let high = this.messages.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (compareMessages(this.messages[middle], message) <= 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** A message arrived or changed (event, send answer, catch-up): add it at its place or replace our copy. */
  upsert(message) {
    if (message.thread_root_id) {
      this.thread?.upsert(message); // replies live in their thread, never in the timeline
      return;
    }
    const stickToBottom = this.atBottom || message.sender_id === state.me.id;
    const added = this.store(message);
    const kept = this.byId.get(message.id);
    this.renderArticle(kept);
    if (!added) this.updateQuotesOf(kept);
    if (this.thread?.root.id === kept.id) this.thread.setRoot(kept);
    this.composer.messageChanged(kept);
    if (added) this.clearTypist(message.sender_id);
    this.render();
    if (added && stickToBottom) this.scrollToBottom();
  }

  /** A message_deleted event carries only the id: make our copy a tombstone. */
  markDeleted(messageId) {
    const held = this.byId.get(messageId);
    this.pins.refresh(); // a deleted message is unpinned
    if (!held) this.thread?.markDeleted(messageId);
    if (!held || held.is_deleted) return;
    this.upsert({
      ...held,
      reactions: [],
      mentions: [],
      pinned_at: null,
      pinned_by: null,
      is_deleted: true,
      deleted_at: new Date().toISOString(),
      content: null,
      media_url: null,
      thumbnail_url: null,
      media_filename: null,
      media_size: null,
      media_mime_type: null,
    });
  }

  /** Replies quoting a message that changed show its new text (or that it was deleted). */
  updateQuotesOf(original) {
    for (const message of this.messages) {
      if (message.reply_to?.id !== original.id) continue;
      message.reply_to = {
        ...message.reply_to,
        is_deleted: original.is_deleted,
        content: original.is_deleted ? null : (original.content || '').slice(0, 200) || null,
      };
      this.renderArticle(message);
    }
  }

  newest() {
    return this.messages[this.messages.length - 1] || null;
  }

  // ---- reactions, threads, pins (their own modules draw them; this wires them to the messages held) ---------

  /** Apply `fn` to the copy of a message held here: the timeline's, or else the open thread's. */
  change(messageId, fn) {
    const held = this.byId.get(messageId);
    if (held) this.upsert(fn(held));
    else this.thread?.change(messageId, fn);
  }

  /** Add or remove one of our reactions; the answer's reactions (with `me`) replace ours. */
  async react(message, emoji, on) {
    const reactions = await setReaction(message, emoji, on);
    this.change(message.id, (held) => ({ ...held, reactions }));
  }

  async pin(message, on) {
    try {
      this.upsert(await setPinned(this.room, message, on));
      this.pins.refresh();
    } catch (failure) {
      this.showError(failure);
    }
  }

  openThread(root) {
    this.closeThread(false);
    this.thread = new ThreadPane(this.room, this.byId.get(root.id) || root, {
      send: (draft) => this.actions.send(this.room, draft),
      react: (message, emoji, on) => this.react(message, emoji, on),
      body: (message) => this.body(message),
      members: () => this.room.members || [],
      close: () => this.closeThread(),
    });
    this.element.append(this.thread.element);
    this.element.classList.add('with-thread');
    this.thread.load();
    this.thread.focus();
  }

  /** Close the thread pane; focus goes back to its root's thread button. */
  closeThread(restoreFocus = true) {
    if (!this.thread) return;
    const rootId = this.thread.root.id;
    this.thread.destroy();
    this.thread.element.remove();
    this.thread = null;
    this.element.classList.remove('with-thread');
    if (restoreFocus) this.articles.get(rootId)?.querySelector('.thread-summary, .thread-button')?.focus();
  }

  // ---- read receipts ------------------------------------------------------------------------------------

  /** Someone read messages (a messages_read event). */
  applyRead(userId, messageIds) {
    for (const id of messageIds) {
      if (!this.readers.has(id)) this.readers.set(id, new Set());
      this.readers.get(id).add(userId);
    }
    this.refreshReceipts();
  }

  /** Who has read one of our messages: receipts seen live, plus members whose read pointer passed it. */
  readerNames(message) {
    const ids = new Set(this.readers.get(message.id) || []);
    const sent = Date.parse(message.created_at);
    for (const member of this.room.members || []) {
      if (member.user_id !== state.me.id && member.last_read_at && Date.parse(member.last_read_at) >= sent) {
        ids.add(member.user_id);
      }
    }
    ids.delete(state.me.id);
    return [...ids].map(nameOf);
  }

  refreshReceipts() {
    for (const [id, span] of this.receipts) {
      const message = this.byId.get(id);
      if (message) this.fillReceipt(span, message);
    }
  }

  fillReceipt(span, message) {
    const readers = this.readerNames(message);
    span.textContent = readers.length ? '✓✓' : '✓';
    span.title = readers.length ? `Read by ${readers.join(', ')}` : 'Sent';
    span.classList.toggle('read', readers.length > 0);
  }

  // ---- typing -------------------------------------------------------------------------------------------

  setTyping(userId, isTyping) {
    if (userId === state.me.id) return;
    if (!isTyping) {
      this.clearTypist(userId);
      return;
    }
    clearTimeout(this.typists.get(userId));
    this.typists.set(userId, setTimeout(() => this.clearTypist(userId), TYPING_TIMEOUT_MS));
    this.renderTyping();
  }

  clearTypist(userId) {
    if (!this.typists.has(userId)) return;
    clearTimeout(this.typists.get(userId));
    this.typists.delete(userId);
    this.renderTyping();
  }

  renderTyping() {
    const names = [...this.typists.keys()].map(nameOf);
    let text = '';
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = 'Several people are typing…';
    this.typingLine.textContent = text;
  }

  // ---- rendering ----------------------------------------------------------------------------------------

  /** Put the articles and day separators in order; nodes already in place are left alone. */
  render() {
    const nodes = [];
    let previousDay = null;
    for (const message of this.messages) {
      const created = new Date(message.created_at);
      const day = dayKey(created);
      if (day !== previousDay) {
        nodes.push(this.separator(day, created));
        previousDay = day;
      }
      nodes.push(this.articles.get(message.id) || this.renderArticle(message));
    }
    reconcile(this.log, nodes);
    this.renderHistoryStatus();
  }

  renderHistoryStatus() {
    if (this.loadingOlder) return;
    if (!this.historyLoaded) return;
    let text = ''; // more history above: nothing to say
    if (!this.olderCursor && this.messages.length) text = 'Beginning of the conversation';
    else if (!this.olderCursor) text = 'No messages yet. Say hello!';
    this.historyStatus.textContent = text;
  }

  separator(day, date) {
    let node = this.separators.get(day);
    if (!node) {
      const label = dayLabel(date);
      node = el('div', { class: 'day-separator', role: 'separator', 'aria-label': label }, el('span', {}, label));
      this.separators.set(day, node);
    }
    return node;
  }

  /** (Re)draw one message's article in place. */
  renderArticle(message) {
    let article = this.articles.get(message.id);
    if (!article) {
      article = el('article', { class: 'message', 'data-message-id': message.id });
      this.articles.set(message.id, article);
    }
    const own = message.sender_id === state.me.id;
    const created = new Date(message.created_at);
    article.classList.toggle('own', own);
    article.classList.toggle('deleted', message.is_deleted);

    const header = el(
      'header',
      { class: 'message-header' },
      el('span', { class: 'sender' }, nameOf(message.sender_id)),
      ' ',
      el('time', { datetime: message.created_at, title: created.toLocaleString() }, timeLabel(created)),
      message.forwarded_from_id && !message.is_deleted && el('span', { class: 'tag forwarded' }, 'Forwarded'),
      pinnedTag(message),
    );
    const parts = [header];
    if (message.is_deleted) {
      parts.push(el('p', { class: 'tombstone' }, 'This message was deleted'));
    } else {
      if (message.reply_to) parts.push(this.quote(message.reply_to));
      parts.push(...this.body(message));
      const toggle = (emoji, on) => this.react(message, emoji, on).catch((failure) => this.showError(failure));
      const reactions = reactionBar(message, toggle);
      if (reactions) parts.push(reactions);
    }
    const replies = threadSummaryButton(message, () => this.openThread(message));
    if (replies) parts.push(replies);
    // The footer holds "(edited)" and the receipt, and is left out when it has neither. The action buttons float
    // over the message (see styles.css), so an article takes no room for buttons it does not show.
    const footer = el('footer', { class: 'message-footer' });
    if (message.is_edited && !message.is_deleted) footer.append(el('span', { class: 'edited' }, '(edited)'));
    this.receipts.delete(message.id);
    if (own && !message.is_deleted) {
      const receipt = el('span', { class: 'receipt' });
      this.fillReceipt(receipt, message);
      this.receipts.set(message.id, receipt);
      footer.append(receipt);
    }
    if (footer.childNodes.length) parts.push(footer);
    const actions = message.is_deleted ? null : this.actionButtons(message, own);
    if (actions?.childElementCount) parts.push(actions);
    keepFocus(article, () => article.replaceChildren(...parts));
    return article;
  }

  /** The quoted preview of the message a reply answers. */
  quote(preview) {
    const text = preview.is_deleted ? 'Deleted message' : messageSummary(preview);
    return el(
      'blockquote',
      { class: 'reply-quote' },
      el('span', { class: 'reply-sender' }, nameOf(preview.sender_id)),
      el('span', { class: 'reply-text' }, text),
    );
  }

  /** The text and media of a message; images inline (thumbnail linking to the file), other files as chips. */
  body(message) {
    const parts = [];
    const mediaUrl = safeUrl(message.media_url);
    const filename = message.media_filename || 'file';
    if (message.message_type === 'image' && mediaUrl) {
      const src = safeUrl(message.thumbnail_url) || mediaUrl;
      const img = el('img', { src, alt: filename, loading: 'lazy', class: 'thumbnail' });
      // An image that loads after we scrolled down would push the latest messages out of view.
      img.addEventListener('load', () => {
        if (this.atBottom) this.scrollToBottom();
      });
      parts.push(el('a', { href: mediaUrl, target: '_blank', rel: 'noopener noreferrer', class: 'image-link' }, img));
    } else if (message.message_type === 'video' && mediaUrl) {
      parts.push(
        el('video', { src: mediaUrl, controls: true, preload: 'metadata', class: 'player' }),
        this.fileChip(mediaUrl, filename, message.media_size),
      );
    } else if (message.message_type === 'audio' && mediaUrl) {
      parts.push(
        el('audio', { src: mediaUrl, controls: true, preload: 'metadata' }),
        this.fileChip(mediaUrl, filename, message.media_size),
      );
    } else if (mediaUrl) {
      parts.push(this.fileChip(mediaUrl, filename, message.media_size));
    }
    if (message.content) {
      // Mentions highlighted, and links made of the plain text between them.
      const text = mentionText(message).flatMap((part) => (typeof part === 'string' ? linkify(part) : [part]));
      parts.push(el('p', { class: 'text' }, text));
    }
    return parts;
  }

  fileChip(url, filename, size) {
    return el(
      'a',
      { href: url, download: filename, class: 'file-chip', rel: 'noopener noreferrer' },
      el('span', { class: 'file-name' }, filename),
      size !== null && size !== undefined ? el('span', { class: 'file-size muted' }, ` (${fileSize(size)})`) : null,
    );
  }

  /** Reply and Forward on every message; Edit (own text messages) and Delete (own) too. */
  actionButtons(message, own) {
    const button = (label, handler) => el('button', { type: 'button', onclick: handler }, label);
    const editable = own && message.message_type === 'text' && !message.forwarded_from_id;
    const current = () => this.byId.get(message.id) || message;
    const react = button('React', () =>
      openEmojiPicker(
        () => this.articles.get(message.id)?.querySelector('.react-button')?.focus(),
        (emoji) => this.react(current(), emoji, true),
      ),
    );
    react.classList.add('react-button');
    const thread = button('Reply in thread', () => this.openThread(current()));
    thread.classList.add('thread-button');
    const pinned = Boolean(message.pinned_at);
    return el(
      'div',
      { class: 'message-actions', role: 'group', 'aria-label': 'Message actions' },
      button('Reply', () => this.composer.startReply(message)),
      thread,
      react,
      button('Forward', () => this.actions.forward(message)),
      canPin(this.room) && button(pinned ? 'Unpin' : 'Pin', () => this.pin(current(), !pinned)),
      editable && button('Edit', () => this.composer.startEdit(current())),
      message.is_edited && button('Edit history', () => openEditHistory(current())),
      own && button('Delete', () => this.actions.remove(message)),
    );
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.atBottom = true;
  }

  showError(failure) {
    this.composer.error.textContent = failure?.message || String(failure);
  }

  /** The pane is going away: stop timers, tell the room we stopped typing. */
  destroy() {
    for (const timer of this.typists.values()) clearTimeout(timer);
    this.composer.destroy();
    this.closeThread(false);
  }
}

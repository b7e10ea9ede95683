// The open room: header, pinned messages, the message log, the typing indicator, the composer, and the thread pane
// while one is open. The pane routes each change of a message to everything that shows it.

import { Composer } from './composer.js';
import { el } from './dom.js';
import { MessageLog } from './message-log.js';
import { canDelete, drawMessage } from './message-view.js';
import { PinsPanel, canPin, setPinned } from './pins.js';
import { setReaction } from './reactions.js';
import { ReadReceipts } from './read-receipts.js';
import { isAdmin, roomTitle } from './store.js';
import { ThreadPane } from './thread-pane.js';
import { tombstone } from './timeline.js';
import { TypingIndicator } from './typing-indicator.js';

export class ChatPane {
  /**
   * @param {object} room
   * @param {object} actions callbacks into the app: send, edit, remove, forward, markRead, threadRead, typing,
   *   openSettings, leave, back
   */
  constructor(room, actions) {
    this.room = room;
    this.actions = actions;
    this.lastMarked = null; // the newest message id already marked read, so repeats cost nothing
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
    const room = () => this.room;
    this.log = new MessageLog(room, {
      draw: (article, message) => drawMessage(article, message, this.messageHooks),
      kept: (message, added) => this.messageKept(message, added),
      arrived: (message) => this.upsert(message),
      showError: (failure) => this.showError(failure),
      newest: () => this.actions.markRead(), // back at the newest after a search result: read what came meanwhile
    });
    this.receipts = new ReadReceipts(room, (id) => this.log.timeline.get(id));
    this.typing = new TypingIndicator();
    this.composer = new Composer({
      onSend: (draft) => this.actions.send(this.room, draft),
      onEdit: (message, content, mentions) => this.actions.edit(message, content, mentions),
      onTyping: (isTyping) => this.actions.typing(this.room, isTyping),
      members: () => this.room.members || [],
    });
    this.pins = new PinsPanel(
      () => this.room,
      (message) => this.upsert(message),
    );
    // What a message's buttons do; message-view.js draws them.
    this.messageHooks = {
      react: (message, emoji, on) => this.react(message, emoji, on),
      openThread: (message) => this.openThread(message),
      reply: (message) => this.composer.startReply(message),
      edit: (message) => this.composer.startEdit(message),
      forward: (message) => this.actions.forward(message),
      remove: (message) => this.actions.remove(message),
      canDelete: (message) => canDelete(this.room, message),
      pin: (message, on) => this.pin(message, on),
      canPin: () => canPin(this.room),
      current: (message) => this.log.timeline.get(message.id) || message,
      receipt: (message) => this.receipts.spanFor(message),
      imageLoaded: () => this.log.keepBottom(), // an image that loads later would push the newest messages down
      showError: (failure) => this.showError(failure),
    };
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
      this.log.element,
      this.typing.element,
      this.composer.element,
    );
    this.renderHeader();
  }

  // ---- header -------------------------------------------------------------------------------------------

  /** The room changed (renamed, members, admins): redraw what depends on it. */
  updateRoom(room) {
    this.room = room;
    this.renderHeader();
    this.receipts.refresh();
    // Names may have arrived with the room (a newcomer's first message): refresh the sender labels.
    this.log.redrawAll();
    this.thread?.redrawAll();
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

  // ---- history and reconnection (the message log and its timeline do these; see there) ---------------------

  get historyLoaded() {
    return this.log.historyLoaded;
  }

  loadInitial() {
    return this.log.loadInitial();
  }

  connectionLost() {
    this.log.timeline.connectionLost();
  }

  connectionOpened() {
    return this.log.timeline.connectionOpened();
  }

  openGap() {
    this.log.timeline.openGap();
  }

  catchUp(dropsAtConnect) {
    return this.log.catchUp(dropsAtConnect);
  }

  newest() {
    return this.log.timeline.newest();
  }

  /**
   * Show a message found by a search: scrolled into view and marked, its history loaded around it unless held. A
   * thread reply shows at its root (the history holds roots only), with its thread open at it.
   */
  async showMessage(message) {
    const rootId = message.thread_root_id;
    const targetId = rootId || message.id;
    if (!this.log.reveal(targetId)) {
      try {
        await this.log.loadAround(message.id, targetId);
      } catch (failure) {
        await this.log.loadInitial(); // gone meanwhile (deleted, or we left): show the room as usual, and say why
        throw failure;
      }
    }
    const root = rootId && this.log.timeline.get(rootId);
    if (!root) return;
    if (this.thread?.root.id !== rootId) await this.openThread(root);
    await this.thread?.reveal(message.id);
  }

  // ---- messages -----------------------------------------------------------------------------------------

  /** A message arrived or changed (event, send answer, catch-up): add it at its place or replace our copy. */
  upsert(message) {
    if (message.thread_root_id) {
      this.thread?.upsert(message); // replies live in their thread, never in the timeline
      return;
    }
    this.log.upsert(message);
  }

  /** The log kept and drew a message: the open thread (its root) and the composer (a reply or edit) follow. */
  messageKept(message, added) {
    if (this.thread?.root.id === message.id) this.thread.setRoot(message);
    this.composer.messageChanged(message);
    if (added) this.typing.clear(message.sender_id);
  }

  /** A message_deleted event carries only the id: make our copy a tombstone. */
  markDeleted(messageId) {
    const held = this.log.timeline.get(messageId);
    this.pins.refresh(); // a deleted message is unpinned
    if (!held) this.thread?.markDeleted(messageId);
    if (!held || held.is_deleted) return;
    this.upsert(tombstone(held));
  }

  // ---- reactions, threads, pins (their own modules draw them; this wires them to the messages held) ---------

  /** Apply `fn` to the copy of a message held here: the timeline's, or else the open thread's. */
  change(messageId, fn) {
    const held = this.log.timeline.get(messageId);
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
    this.thread = new ThreadPane(this.room, this.log.timeline.get(root.id) || root, {
      send: (draft) => this.actions.send(this.room, draft),
      react: (message, emoji, on) => this.react(message, emoji, on),
      edit: (message, content, mentions) => this.actions.edit(message, content, mentions),
      remove: (message, showError) => this.actions.remove(message, showError),
      canDelete: (message) => canDelete(this.room, message),
      members: () => this.room.members || [],
      read: () => this.actions.threadRead(this.room),
      close: () => this.closeThread(),
    });
    this.element.append(this.thread.element);
    this.element.classList.add('with-thread');
    const loaded = this.thread.load();
    this.thread.focus();
    return loaded;
  }

  /** Close the thread pane; focus goes back to its root's thread button. */
  closeThread(restoreFocus = true) {
    if (!this.thread) return;
    const rootId = this.thread.root.id;
    this.thread.destroy();
    this.thread.element.remove();
    this.thread = null;
    this.element.classList.remove('with-thread');
    if (restoreFocus) this.log.articles.get(rootId)?.querySelector('.thread-summary, .thread-button')?.focus();
  }

  // ---- read receipts and typing -------------------------------------------------------------------------

  /** Someone read messages (a messages_read event). */
  applyRead(userId, messageIds) {
    this.receipts.applyRead(userId, messageIds);
  }

  setTyping(userId, isTyping) {
    this.typing.set(userId, isTyping);
  }

  clearTypist(userId) {
    this.typing.clear(userId);
  }

  showError(failure) {
    this.composer.error.textContent = failure?.message || String(failure);
  }

  /** The pane is going away: stop timers, tell the room we stopped typing. */
  destroy() {
    this.typing.destroy();
    this.composer.destroy();
    this.closeThread(false);
  }
}

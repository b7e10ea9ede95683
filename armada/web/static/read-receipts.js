// Read receipts on our own messages: "✓" sent, "✓✓" read, with the readers' names in its title. Who read a message
// comes from messages_read events seen live and from the members' read pointers (last_read_at) in the room.

import { el } from './dom.js';
import { nameOf, state } from './store.js';

export class ReadReceipts {
  /**
   * @param {() => object} room the open room, whose members' read pointers count
   * @param {(messageId: string) => object|undefined} lookup the copy of a message held now
   */
  constructor(room, lookup) {
    this.room = room;
    this.lookup = lookup;
    this.spans = new Map(); // message id -> receipt <span> (own messages)
    this.readers = new Map(); // message id -> Set of user ids seen reading it (messages_read events)
  }

  /** Someone read messages (a messages_read event). */
  applyRead(userId, messageIds) {
    for (const id of messageIds) {
      if (!this.readers.has(id)) this.readers.set(id, new Set());
      this.readers.get(id).add(userId);
    }
    this.refresh();
  }

  /** Who has read one of our messages: receipts seen live, plus members whose read pointer passed it. */
  readerNames(message) {
    const ids = new Set(this.readers.get(message.id) || []);
    const sent = Date.parse(message.created_at);
    for (const member of this.room().members || []) {
      if (member.user_id !== state.me.id && member.last_read_at && Date.parse(member.last_read_at) >= sent) {
        ids.add(member.user_id);
      }
    }
    ids.delete(state.me.id);
    return [...ids].map(nameOf);
  }

  /** The receipt for a message being drawn: a fresh <span> for our own message, kept up to date; else null. */
  spanFor(message) {
    this.spans.delete(message.id);
    if (message.sender_id !== state.me.id || message.is_deleted) return null;
    const span = el('span', { class: 'receipt' });
    this.fill(span, message);
    this.spans.set(message.id, span);
    return span;
  }

  /** Readers or read pointers changed: redraw every receipt shown. */
  refresh() {
    for (const [id, span] of this.spans) {
      const message = this.lookup(id);
      if (message) this.fill(span, message);
    }
  }

  fill(span, message) {
    const readers = this.readerNames(message);
    span.textContent = readers.length ? '✓✓' : '✓';
    span.title = readers.length ? `Read by ${readers.join(', ')}` : 'Sent';
    span.classList.toggle('read', readers.length > 0);
  }
}

// The open room's messages as this window holds them: each once, in the room's order whatever order they arrived in,
// the newer version kept when two copies meet; and the gap bookkeeping that says from which message a catch-up must
// start after the connection dropped. No DOM and no network here: the message log draws and fetches.

import { keepMine } from './reactions.js';

/**
 * Which of two versions of a message to keep: deletion is final (but a deleted root's thread lives on, so its
 * summary still follows the incoming copy); otherwise the later edit wins.
 */
export function newerVersion(held, incoming) {
  if (held.is_deleted) return 'thread' in incoming ? { ...held, thread: incoming.thread } : held;
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
export function compareMessages(a, b) {
  return sentAt(a) - sentAt(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** A message_deleted event carries only the id: the tombstone our copy becomes, with nothing of its content. */
export function tombstone(held) {
  return {
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
  };
}

export class Timeline {
  constructor() {
    this.messages = []; // in the room's order (compareMessages), oldest first, whatever order they arrived in
    this.byId = new Map();
    this.gap = null; // {anchor}: events may have been missed after `anchor` (null: none held), until a catch-up
    this.drops = 0; // lost connections so far: one since a catch-up's connection opened leaves its gap open
  }

  get(messageId) {
    return this.byId.get(messageId);
  }

  newest() {
    return this.messages[this.messages.length - 1] || null;
  }

  /** Hold `page` (the newest page of history) plus the messages held now that it does not have (arrived live). */
  replaceWith(page) {
    const pageIds = new Set(page.map((m) => m.id));
    const live = this.messages.filter((m) => !pageIds.has(m.id));
    this.messages = [];
    this.byId.clear();
    for (const message of [...page, ...live]) this.store(message);
  }

  /** Hold nothing (the log is about to show another stretch of the room's history). */
  clear() {
    this.messages = [];
    this.byId.clear();
  }

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

  /** Replies quoting a message that changed get its new text (or that it was deleted); answers the replies changed. */
  updateQuotesOf(original) {
    const changed = [];
    for (const message of this.messages) {
      if (message.reply_to?.id !== original.id) continue;
      message.reply_to = {
        ...message.reply_to,
        is_deleted: original.is_deleted,
        content: original.is_deleted ? null : (original.content || '').slice(0, 200) || null,
      };
      changed.push(message);
    }
    return changed;
  }

  // ---- gaps in the connection ---------------------------------------------------------------------------

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
   * A catch-up finished: the gap closes only if the connection has not dropped since it opened (`dropsAtConnect`
   * drops then), since live events cover what came after the catch-up's last page only while the connection holds.
   */
  catchUpDone(dropsAtConnect) {
    if (this.drops === dropsAtConnect) this.gap = null;
  }
}

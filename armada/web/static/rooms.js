// The rooms the logged-in user is in: loaded and refreshed from the API (the truth after a gap), joined on the
// socket so their events arrive, forgotten when we leave or are removed; and the room list and the page title
// (the unread count) drawn from them.

import { ApiError, fetchAll, request } from './api.js';
import { putRoom, state } from './store.js';

/** Keep the room list's preview and order: a newer message, or a new version of the last one. */
export function noteLastMessage(room, message) {
  const last = room.last_message;
  if (!last || last.id === message.id || Date.parse(message.created_at) >= Date.parse(last.created_at)) {
    room.last_message = last?.id === message.id && last.is_deleted ? last : message;
  }
}

export class Rooms {
  /**
   * @param {object} app the live parts of the session: roomList, realtime and pane (the open room's ChatPane) as
   *   they are now (each may be null), showNotice(text) and openRoom(roomId)
   */
  constructor(app) {
    this.app = app;
    this.joins = new Map(); // room id -> its latest join_room acknowledgement (a promise)
    this.refreshes = new Map(); // room id -> the number of its latest refresh, whose answer alone is kept
  }

  /** Reload the room list from the API (the truth after a gap); rooms we were removed from disappear. */
  async load() {
    const rooms = await fetchAll('/api/chat/rooms');
    const known = new Set(rooms.map((r) => r.id));
    for (const id of [...state.rooms.keys()]) if (!known.has(id)) state.rooms.delete(id);
    for (const room of rooms) putRoom(room);
    if (state.openRoomId && !state.rooms.has(state.openRoomId)) {
      this.app.showNotice('You are no longer a member of that room.');
    } else {
      this.app.pane?.updateRoom(state.rooms.get(state.openRoomId));
    }
    this.render();
  }

  render() {
    this.app.roomList.render();
    const unread = [...state.rooms.values()].reduce((sum, r) => sum + (r.unread_count || 0), 0);
    document.title = unread ? `(${unread}) Armada` : 'Armada';
  }

  /** Receive a room's events on this socket (members only; the server checks). */
  join(roomId) {
    const { realtime } = this.app;
    const joined = realtime ? realtime.emit('join_room', { room_id: roomId }) : Promise.resolve(null);
    this.joins.set(roomId, joined);
    return joined;
  }

  /** The latest join of a room (a promise; undefined if never joined). */
  joined(roomId) {
    return this.joins.get(roomId);
  }

  /** A room we created (or that a direct "Create" found existing): list it, join it, open it. */
  created(room) {
    putRoom(room);
    this.render();
    this.join(room.id);
    this.app.openRoom(room.id);
  }

  /**
   * A room we just learned of (created by someone else, or we were added): join it first, then read it, so
   * a message sent in between is either in what we read or arrives as an event.
   */
  async adopt(roomId) {
    await this.join(roomId);
    await this.refresh(roomId);
  }

  /**
   * Fetch one room afresh (members, unread and mention counts, last message); a 404 means we are no longer in it.
   * Of overlapping refreshes of a room only the latest is kept: an earlier answer may arrive last, and be older.
   */
  async refresh(roomId) {
    const number = (this.refreshes.get(roomId) || 0) + 1;
    this.refreshes.set(roomId, number);
    try {
      const fresh = await request('GET', `/api/chat/rooms/${roomId}`);
      if (this.refreshes.get(roomId) !== number) return;
      const room = putRoom(fresh);
      const { pane } = this.app;
      if (pane?.room.id === roomId) pane.updateRoom(room);
    } catch (failure) {
      if (this.refreshes.get(roomId) !== number) return;
      if (failure instanceof ApiError && failure.status === 404) this.forget(roomId);
      else throw failure;
    }
    this.render();
  }

  forget(roomId) {
    state.rooms.delete(roomId);
    if (state.openRoomId === roomId) this.app.showNotice('You are no longer a member of that room.');
    this.render();
  }

  /** A room event for a room we do not know yet (we were added while this page was loading): fetch it. */
  known(roomId) {
    const room = state.rooms.get(roomId);
    if (!room) this.adopt(roomId).catch(() => {});
    return room;
  }

  /** The session ended: no room is joined any more. */
  reset() {
    this.joins.clear();
  }
}

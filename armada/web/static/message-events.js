// Socket.IO handlers of the message features: reactions, thread summaries, pins and mentions. The open room's
// pane applies what concerns its messages; `mentioned` asks the server for the room's mention badge.

import { applyReactionEvent } from './reactions.js';
import { state } from './store.js';

/**
 * @param {() => object|null} openPane the open room's ChatPane, if any
 * @param {object} rooms the session's Rooms (refresh(roomId) fetches a room's counts afresh)
 */
export function messageFeatureEvents(openPane, rooms) {
  const inOpenRoom = (roomId) => {
    const pane = openPane();
    return pane?.room.id === roomId ? pane : null;
  };
  const reaction = (added) => (data) => {
    inOpenRoom(data.room_id)?.change(data.message_id, (m) => applyReactionEvent(m, data, added));
  };
  const pinChange = (pinned) => (data) => {
    const pane = inOpenRoom(data.room_id);
    if (!pane) return;
    const fields = pinned
      ? { pinned_at: data.pinned_at, pinned_by: data.pinned_by }
      : { pinned_at: null, pinned_by: null };
    pane.change(data.message_id, (m) => ({ ...m, ...fields }));
    pane.pins.refresh();
  };
  return {
    reaction_added: reaction(true),
    reaction_removed: reaction(false),
    message_pinned: pinChange(true),
    message_unpinned: pinChange(false),

    thread_updated({ room_id: roomId, root_id: rootId, thread }) {
      inOpenRoom(roomId)?.change(rootId, (m) => ({ ...m, thread }));
    },

    /**
     * We were mentioned (never by ourselves), unless we are looking at that room's timeline now: ask the server for
     * the room's mention count rather than add one here, since an edit that mentions us in a message already read
     * mentions us again but counts nothing.
     */
    mentioned({ room_id: roomId, message }) {
      if (!state.rooms.has(roomId)) return;
      const watching = inOpenRoom(roomId) && document.visibilityState === 'visible' && !message.thread_root_id;
      if (watching) return; // marked read as it arrives
      rooms.refresh(roomId).catch(() => {});
    },
  };
}

// Socket.IO handlers of messages, read receipts, typing, rooms and members: they keep the room list and the open
// room's pane live. (Reactions, threads, pins and mentions have theirs in message-events.js.)

import { noteLastMessage } from './rooms.js';
import { putRoom, state } from './store.js';

/**
 * @param {object} app the live parts of the session: pane (the open room's ChatPane, or null), rooms (Rooms) and
 *   markRead() (everything in the open room is read, while the page is visible)
 */
export function roomEvents(app) {
  const { rooms } = app;
  const inOpenRoom = (roomId) => {
    const { pane } = app;
    return pane?.room.id === roomId ? pane : null;
  };
  return {
    new_message({ room_id: roomId, message }) {
      const room = rooms.known(roomId);
      if (!room) return;
      if (message.thread_root_id) {
        // A thread reply: to the thread pane if it shows that thread; the room's preview and unread count stay.
        inOpenRoom(roomId)?.upsert(message);
        return;
      }
      // Already our room's last message: the catch-up after a reconnect brought it first; count it once.
      const seen = room.last_message?.id === message.id;
      noteLastMessage(room, message);
      const fromOthers = message.sender_id !== state.me.id;
      const open = inOpenRoom(roomId);
      if (open) open.upsert(message);
      if (fromOthers && !seen) {
        if (open && document.visibilityState === 'visible') app.markRead();
        else room.unread_count = (room.unread_count || 0) + 1;
      }
      rooms.render();
    },

    message_edited({ room_id: roomId, message }) {
      const room = state.rooms.get(roomId);
      if (room?.last_message?.id === message.id) room.last_message = message;
      inOpenRoom(roomId)?.upsert(message);
      rooms.render();
    },

    message_deleted({ room_id: roomId, message_id: messageId }) {
      const room = state.rooms.get(roomId);
      if (room?.last_message?.id === messageId) {
        room.last_message = { ...room.last_message, is_deleted: true, content: null };
      }
      inOpenRoom(roomId)?.markDeleted(messageId);
      rooms.render();
      // The deleted message may have been one of those counted unread or mentioning us: the server knows.
      if (room?.unread_count > 0 || room?.mention_count > 0) rooms.refresh(roomId).catch(() => {});
    },

    messages_read({ room_id: roomId, user_id: userId, message_ids: messageIds, read_at: readAt }) {
      const room = state.rooms.get(roomId);
      if (!room) return;
      const member = room.members?.find((m) => m.user_id === userId);
      if (member && (!member.last_read_at || Date.parse(readAt) > Date.parse(member.last_read_at))) {
        member.last_read_at = readAt;
      }
      inOpenRoom(roomId)?.applyRead(userId, messageIds);
      // Read in another tab or device of ours: the server knows the new unread count.
      if (userId === state.me.id && (room.unread_count > 0 || room.mention_count > 0)) {
        rooms.refresh(roomId).catch(() => {});
      }
    },

    user_typing({ room_id: roomId, user_id: userId, is_typing: isTyping }) {
      inOpenRoom(roomId)?.setTyping(userId, isTyping);
    },

    room_created({ room }) {
      const isNew = !state.rooms.has(room.id);
      putRoom(room);
      rooms.render();
      if (isNew) rooms.adopt(room.id).catch(() => {});
    },

    room_updated({ room }) {
      if (!room.members?.some((m) => m.user_id === state.me.id)) return; // we are on our way out of it
      const merged = putRoom(room);
      inOpenRoom(room.id)?.updateRoom(merged);
      rooms.render();
    },

    member_added({ room_id: roomId, user_id: userId }) {
      // The event names only the user: fetch the room for its members (and, if it is us, join it first).
      const isNew = userId === state.me.id || !state.rooms.has(roomId);
      (isNew ? rooms.adopt(roomId) : rooms.refresh(roomId)).catch(() => {});
    },

    member_removed({ room_id: roomId, user_id: userId }) {
      if (userId === state.me.id) {
        rooms.forget(roomId);
        return;
      }
      const room = state.rooms.get(roomId);
      if (!room) return;
      room.members = (room.members || []).filter((m) => m.user_id !== userId);
      const open = inOpenRoom(roomId);
      if (open) {
        open.updateRoom(room);
        open.clearTypist(userId);
      }
      rooms.render();
    },
  };
}

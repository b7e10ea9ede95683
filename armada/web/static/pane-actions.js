// What the open room's controls do: send (retried safely), edit, delete, forward, typing, room settings, leave,
// and "Back to rooms". Each change answered by the server shows at once; its event, arriving too, changes nothing.

import { ApiError, describeError, request } from './api.js';
import { confirmAction } from './confirm.js';
import { randomId } from './dom.js';
import { openForwardDialog } from './forward-dialog.js';
import { openRoomSettingsDialog } from './room-settings-dialog.js';
import { noteLastMessage } from './rooms.js';
import { putRoom, roomTitle, state } from './store.js';

const SEND_RETRIES = 2; // extra attempts after a network failure; the same client_id makes them safe

/**
 * The actions a ChatPane calls. `app`: pane (the open room's ChatPane, or null), realtime (or null), rooms (Rooms),
 * roomList, showNotice(text), as they are now.
 */
export function paneActions(app) {
  const { rooms } = app;

  /** A message we sent, edited or deleted: show it at once (its event, arriving too, changes nothing more). */
  const showMessage = (message) => {
    const room = state.rooms.get(message.room_id);
    if (room && !message.thread_root_id) noteLastMessage(room, message); // a thread reply leaves the room's preview
    if (app.pane?.room.id === message.room_id) app.pane.upsert(message);
    rooms.render();
  };

  /**
   * Send over REST with a client-made id: if the network fails we retry with the same `client_id`, and the
   * server returns the first message instead of creating a second one.
   */
  const send = async (room, { content, attachment, replyTo, mentions, threadRootId }) => {
    const body = { room_id: room.id, client_id: randomId() };
    if (content) body.content = content;
    if (attachment) {
      body.message_type = attachment.message_type;
      body.media_url = attachment.path;
    }
    if (replyTo) body.reply_to_id = replyTo.id;
    if (mentions?.length) body.mentions = mentions;
    if (threadRootId) body.thread_root_id = threadRootId;
    for (let attempt = 0; ; attempt += 1) {
      try {
        showMessage(await request('POST', '/api/chat/messages', { body }));
        return;
      } catch (failure) {
        if (!(failure instanceof ApiError) || failure.status !== 0 || attempt >= SEND_RETRIES) throw failure;
        await new Promise((resolve) => setTimeout(resolve, 1000 * (attempt + 1)));
      }
    }
  };

  return {
    send,
    async edit(message, content, mentions = []) {
      showMessage(await request('PATCH', `/api/chat/messages/${message.id}`, { body: { content, mentions } }));
    },
    /** Delete a message, once confirmed; a failure shows where `showError` puts it (the room's composer). */
    async remove(message, showError = (text) => app.pane?.showError(text)) {
      const confirmed = await confirmAction({
        title: 'Delete this message?',
        detail: 'Everyone in the room will see that a message was deleted. This cannot be undone.',
        confirmLabel: 'Delete message',
      });
      if (!confirmed) return;
      try {
        showMessage(await request('DELETE', `/api/chat/messages/${message.id}`));
      } catch (failure) {
        showError(describeError(failure));
      }
    },
    forward: (message) => openForwardDialog(message),
    markRead: () => app.markRead(),
    /** We read a thread of `room`: a mention in one of its replies may no longer count (the server knows). */
    threadRead(room) {
      if (state.rooms.get(room.id)?.mention_count) rooms.refresh(room.id).catch(() => {});
    },
    /** "Back to rooms" (narrow screens): close the room and return to its entry in the list. */
    back() {
      const roomId = app.pane?.room.id;
      app.showNotice('Choose a room, or start a new conversation.');
      app.roomList.focusRoom(roomId);
    },
    typing(room, isTyping) {
      app.realtime?.emit('typing', { room_id: room.id, is_typing: isTyping });
    },
    openSettings(room) {
      openRoomSettingsDialog(room, (fresh) => {
        const merged = putRoom(fresh);
        if (app.pane?.room.id === merged.id) app.pane.updateRoom(merged);
        rooms.render();
      });
    },
    async leave(room) {
      const confirmed = await confirmAction({
        title: `Leave ${roomTitle(room)}?`,
        detail: 'You will no longer see its messages. To come back, an admin of the room has to add you again.',
        confirmLabel: 'Leave room',
      });
      if (!confirmed) return;
      try {
        await request('DELETE', `/api/chat/rooms/${room.id}/members/${state.me.id}`);
        app.realtime?.emit('leave_room', { room_id: room.id });
        rooms.forget(room.id);
        app.showNotice(`You left ${roomTitle(room)}.`);
      } catch (failure) {
        app.pane?.showError(describeError(failure));
      }
    },
  };
}

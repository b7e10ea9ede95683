// Armada's web client: wires the session, the REST API, the Socket.IO connection and the views together.
//
// Data flow: REST calls load state and make changes; Socket.IO events are the fast path that keeps every
// window live; after any reconnection the client re-joins its rooms and catches up from REST, because events
// sent while it was away are not replayed.

import {
  ApiError,
  accessToken,
  currentUser,
  describeError,
  fetchAll,
  logout,
  onSessionEnded,
  onTokenRefreshed,
  refreshAccessToken,
  request,
  restoreSession,
} from './api.js';
import { renderAuth } from './auth-view.js';
import { ChatPane } from './chat-view.js';
import { confirmAction } from './confirm.js';
import { openForwardDialog, openNewDirectDialog, openNewGroupDialog, openRoomSettingsDialog } from './dialogs.js';
import { debounce, el, randomId } from './dom.js';
import { messageFeatureEvents } from './message-events.js';
import { RoomList } from './rooms-view.js';
import { Realtime } from './socket.js';
import { putRoom, roomTitle, state } from './store.js';

const root = document.getElementById('app');
const SEND_RETRIES = 2; // extra attempts after a network failure; the same client_id makes them safe
const MARK_READ_DELAY_MS = 300;

let realtime = null;
let roomList = null;
let pane = null;
let chatArea = null;
let shell = null;
let banner = null;
const joins = new Map(); // room id -> its latest join_room acknowledgement (a promise)

// ---- screens --------------------------------------------------------------------------------------------

function showLogin(notice = null) {
  teardown();
  renderAuth(root, () => startChat(), notice);
}

/** Stop everything that belongs to a logged-in session. */
function teardown() {
  realtime?.close();
  realtime = null;
  pane?.destroy();
  pane = null;
  state.me = null;
  state.rooms.clear();
  state.names.clear();
  state.openRoomId = null;
  joins.clear();
  document.title = 'Armada';
}

async function startChat() {
  state.me = currentUser();
  state.names.set(state.me.id, state.me.display_name);
  renderShell();
  try {
    await loadRooms();
  } catch (failure) {
    if (accessToken()) showNotice(describeError(failure));
  }
  if (!accessToken()) return; // the session ended while loading (or logged out): the login screen shows
  realtime = new Realtime({
    getToken: accessToken,
    refreshToken: refreshAccessToken,
    onStatus: setOnline,
    onDisconnect: () => pane?.connectionLost(),
    onConnect: () => handleConnect().catch((failure) => console.warn('Catching up failed:', failure)),
    onSessionOver: (message) => showLogin(`Your session has ended (${message}). Please log in again.`),
    events: socketEvents,
  });
}

function renderShell() {
  roomList = new RoomList(openRoom);
  // A live region that is always on the page (empty while online), so screen readers announce the change.
  banner = el('div', { id: 'connection-banner', class: 'connection-status', role: 'status' });
  chatArea = el('main', { class: 'chat-area' });
  const logoutButton = el('button', { type: 'button', class: 'link-button' }, 'Log out');
  logoutButton.addEventListener('click', () => {
    // Close the socket first: the server drops it on logout, and it must not try to refresh and reconnect.
    realtime?.close();
    realtime = null;
    logout().catch(() => {});
  });
  const sidebar = el(
    'aside',
    { class: 'sidebar', 'aria-label': 'Chats' },
    el(
      'header',
      { class: 'sidebar-header' },
      el(
        'div',
        {},
        el('h1', { class: 'brand' }, 'Armada'),
        el('span', { class: 'me muted' }, state.me.display_name),
      ),
      logoutButton,
    ),
    el(
      'div',
      { class: 'sidebar-actions' },
      el('button', { type: 'button', onclick: () => openNewGroupDialog(roomCreated) }, 'New group'),
      el('button', { type: 'button', onclick: () => openNewDirectDialog(roomCreated) }, 'New direct message'),
    ),
    roomList.element,
  );
  shell = el('div', { class: 'app-shell' }, banner, sidebar, chatArea);
  root.replaceChildren(shell);
  showNotice('Choose a room, or start a new conversation.');
  roomList.render();
}

/** The chat area without an open room, showing `text`. */
function showNotice(text) {
  pane?.destroy();
  pane = null;
  state.openRoomId = null;
  shell.classList.remove('room-open'); // narrow screens show the room list again
  chatArea.replaceChildren(el('div', { class: 'empty-state' }, el('p', {}, text)));
  roomList.render();
}

function setOnline(online) {
  if (online) banner.replaceChildren();
  else if (!banner.firstChild) banner.append(el('span', { class: 'banner' }, 'You are offline. Reconnecting…'));
}

// ---- rooms ----------------------------------------------------------------------------------------------

/** Reload the room list from the API (the truth after a gap); rooms we were removed from disappear. */
async function loadRooms() {
  const rooms = await fetchAll('/api/chat/rooms');
  const known = new Set(rooms.map((r) => r.id));
  for (const id of [...state.rooms.keys()]) if (!known.has(id)) state.rooms.delete(id);
  for (const room of rooms) putRoom(room);
  if (state.openRoomId && !state.rooms.has(state.openRoomId)) showNotice('You are no longer a member of that room.');
  else if (pane) pane.updateRoom(state.rooms.get(state.openRoomId));
  renderRooms();
}

function renderRooms() {
  roomList.render();
  const unread = [...state.rooms.values()].reduce((sum, r) => sum + (r.unread_count || 0), 0);
  document.title = unread ? `(${unread}) Armada` : 'Armada';
}

/** Receive a room's events on this socket (members only; the server checks). */
function joinRoom(roomId) {
  const joined = realtime ? realtime.emit('join_room', { room_id: roomId }) : Promise.resolve(null);
  joins.set(roomId, joined);
  return joined;
}

/** A room we created (or that a direct "Create" found existing): list it, join it, open it. */
function roomCreated(room) {
  putRoom(room);
  renderRooms();
  joinRoom(room.id);
  openRoom(room.id);
}

/**
 * A room we just learned of (created by someone else, or we were added): join it first, then read it, so
 * a message sent in between is either in what we read or arrives as an event.
 */
async function adoptRoom(roomId) {
  await joinRoom(roomId);
  await refreshRoom(roomId);
}

/** Fetch one room afresh (members, unread count, last message); a 404 means we are no longer in it. */
async function refreshRoom(roomId) {
  try {
    const room = putRoom(await request('GET', `/api/chat/rooms/${roomId}`));
    if (pane?.room.id === roomId) pane.updateRoom(room);
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 404) forgetRoom(roomId);
    else throw failure;
  }
  renderRooms();
}

function forgetRoom(roomId) {
  state.rooms.delete(roomId);
  if (state.openRoomId === roomId) showNotice('You are no longer a member of that room.');
  renderRooms();
}

async function openRoom(roomId) {
  const room = state.rooms.get(roomId);
  if (!room || (pane && pane.room.id === roomId)) return;
  pane?.destroy();
  state.openRoomId = roomId;
  pane = new ChatPane(room, paneActions);
  chatArea.replaceChildren(pane.element);
  shell.classList.add('room-open'); // narrow screens show the conversation alone
  renderRooms();
  pane.composer.focus();
  const opened = pane;
  try {
    // Load the history only once the socket has joined, so a message sent in between is not lost.
    await joins.get(roomId);
    await opened.loadInitial();
    // Loaded while offline: what is sent from now until the next connection's catch-up may be missed.
    if (!realtime?.connected) opened.openGap();
    if (pane === opened) markRead();
  } catch (failure) {
    if (pane === opened) opened.showError(describeError(failure));
  }
}

// ---- actions from the open room -------------------------------------------------------------------------

const paneActions = {
  send: sendMessage,
  async edit(message, content, mentions = []) {
    showMessage(await request('PATCH', `/api/chat/messages/${message.id}`, { body: { content, mentions } }));
  },
  async remove(message) {
    const confirmed = await confirmAction({
      title: 'Delete this message?',
      detail: 'Everyone in the room will see that a message was deleted. This cannot be undone.',
      confirmLabel: 'Delete message',
    });
    if (!confirmed) return;
    try {
      showMessage(await request('DELETE', `/api/chat/messages/${message.id}`));
    } catch (failure) {
      pane?.showError(describeError(failure));
    }
  },
  forward: (message) => openForwardDialog(message),
  /** "Back to rooms" (narrow screens): close the room and return to its entry in the list. */
  back() {
    const roomId = pane?.room.id;
    showNotice('Choose a room, or start a new conversation.');
    roomList.focusRoom(roomId);
  },
  typing(room, isTyping) {
    realtime?.emit('typing', { room_id: room.id, is_typing: isTyping });
  },
  openSettings(room) {
    openRoomSettingsDialog(room, (fresh) => {
      const merged = putRoom(fresh);
      if (pane?.room.id === merged.id) pane.updateRoom(merged);
      renderRooms();
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
      realtime?.emit('leave_room', { room_id: room.id });
      forgetRoom(room.id);
      showNotice(`You left ${roomTitle(room)}.`);
    } catch (failure) {
      pane?.showError(describeError(failure));
    }
  },
};

/**
 * Send over REST with a client-made id: if the network fails we retry with the same `client_id`, and the
 * server returns the first message instead of creating a second one.
 */
async function sendMessage(room, { content, attachment, replyTo, mentions, threadRootId }) {
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
}

/** A message we sent, edited or deleted: show it at once (its event, arriving too, changes nothing more). */
function showMessage(message) {
  const room = state.rooms.get(message.room_id);
  if (room && !message.thread_root_id) noteLastMessage(room, message); // a thread reply leaves the room's preview
  if (pane?.room.id === message.room_id) pane.upsert(message);
  renderRooms();
}

/** Keep the room list's preview and order: a newer message, or a new version of the last one. */
function noteLastMessage(room, message) {
  const last = room.last_message;
  if (!last || last.id === message.id || Date.parse(message.created_at) >= Date.parse(last.created_at)) {
    room.last_message = last?.id === message.id && last.is_deleted ? last : message;
  }
}

// ---- read receipts --------------------------------------------------------------------------------------

/**
 * While a room is open and the page visible, everything in it up to the newest message is read. The server
 * records receipts only for others' messages not read before, so calling this again is harmless.
 */
const markRead = debounce(async () => {
  const current = pane;
  if (!current || document.visibilityState !== 'visible') return;
  const newest = current.newest();
  if (!newest || current.lastMarked === newest.id) return;
  current.lastMarked = newest.id;
  const roomId = current.room.id;
  try {
    const result = await request('POST', `/api/chat/rooms/${roomId}/read`, { body: { up_to: newest.id } });
    const held = state.rooms.get(roomId);
    if (held) held.unread_count = result.unread_count;
    renderRooms();
    // The answer has no mention count: ask for the room's when it showed mentions.
    if (held?.mention_count) await refreshRoom(roomId);
  } catch (failure) {
    current.lastMarked = null; // try again with the next trigger
    console.warn('Marking messages read failed:', describeError(failure));
  }
}, MARK_READ_DELAY_MS);

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') markRead();
});

// ---- Socket.IO ------------------------------------------------------------------------------------------

/**
 * After every (re)connection: join every room (so the list stays live), then catch up from the API on what
 * the events missed while we were not joined: the room list first, then the open room's changes. The open
 * room's catch-up starts from what it held before the gap (ChatPane.connectionLost), never from a message that
 * arrived live after the re-join.
 */
async function handleConnect() {
  const reconnected = pane;
  const drops = reconnected?.connectionOpened();
  await Promise.all([...state.rooms.keys()].map(joinRoom));
  const before = new Set(state.rooms.keys());
  await loadRooms();
  // Rooms we were added to while away: join, then read them again so nothing falls between load and join.
  await Promise.all([...state.rooms.keys()].filter((id) => !before.has(id)).map(adoptRoom));
  const open = pane;
  if (!open?.historyLoaded) return;
  const changed = await open.catchUp(open === reconnected ? drops : undefined);
  // The reloaded list may count as unread what this window read live meanwhile: mark read again, even up to the
  // same newest message.
  if (changed.length || state.rooms.get(open.room.id)?.unread_count) {
    open.lastMarked = null;
    markRead();
  }
}

/** A room event for a room we do not know yet (we were added while this page was loading): fetch it. */
function knownRoom(roomId) {
  const room = state.rooms.get(roomId);
  if (!room) adoptRoom(roomId).catch(() => {});
  return room;
}

const socketEvents = {
  ...messageFeatureEvents(() => pane, renderRooms),

  new_message({ room_id: roomId, message }) {
    const room = knownRoom(roomId);
    if (!room) return;
    if (message.thread_root_id) {
      // A thread reply: to the thread pane if it shows that thread; the room's preview and unread count stay.
      if (pane?.room.id === roomId) pane.upsert(message);
      return;
    }
    // Already our room's last message: the catch-up after a reconnect brought it first; count it once.
    const seen = room.last_message?.id === message.id;
    noteLastMessage(room, message);
    const fromOthers = message.sender_id !== state.me.id;
    const open = pane?.room.id === roomId;
    if (open) pane.upsert(message);
    if (fromOthers && !seen) {
      if (open && document.visibilityState === 'visible') markRead();
      else room.unread_count = (room.unread_count || 0) + 1;
    }
    renderRooms();
  },

  message_edited({ room_id: roomId, message }) {
    const room = state.rooms.get(roomId);
    if (room?.last_message?.id === message.id) room.last_message = message;
    if (pane?.room.id === roomId) pane.upsert(message);
    renderRooms();
  },

  message_deleted({ room_id: roomId, message_id: messageId }) {
    const room = state.rooms.get(roomId);
    if (room?.last_message?.id === messageId) {
      room.last_message = { ...room.last_message, is_deleted: true, content: null };
    }
    if (pane?.room.id === roomId) pane.markDeleted(messageId);
    renderRooms();
  },

  messages_read({ room_id: roomId, user_id: userId, message_ids: messageIds, read_at: readAt }) {
    const room = state.rooms.get(roomId);
    if (!room) return;
    const member = room.members?.find((m) => m.user_id === userId);
    if (member && (!member.last_read_at || Date.parse(readAt) > Date.parse(member.last_read_at))) {
      member.last_read_at = readAt;
    }
    if (pane?.room.id === roomId) pane.applyRead(userId, messageIds);
    // Read in another tab or device of ours: the server knows the new unread count.
    if (userId === state.me.id && (room.unread_count > 0 || room.mention_count > 0)) {
      refreshRoom(roomId).catch(() => {});
    }
  },

  user_typing({ room_id: roomId, user_id: userId, is_typing: isTyping }) {
    if (pane?.room.id === roomId) pane.setTyping(userId, isTyping);
  },

  room_created({ room }) {
    const isNew = !state.rooms.has(room.id);
    putRoom(room);
    renderRooms();
    if (isNew) adoptRoom(room.id).catch(() => {});
  },

  room_updated({ room }) {
    if (!room.members?.some((m) => m.user_id === state.me.id)) return; // we are on our way out of it
    const merged = putRoom(room);
    if (pane?.room.id === room.id) pane.updateRoom(merged);
    renderRooms();
  },

  member_added({ room_id: roomId, user_id: userId }) {
    // The event names only the user: fetch the room for its members (and, if it is us, join it first).
    const isNew = userId === state.me.id || !state.rooms.has(roomId);
    (isNew ? adoptRoom(roomId) : refreshRoom(roomId)).catch(() => {});
  },

  member_removed({ room_id: roomId, user_id: userId }) {
    if (userId === state.me.id) {
      forgetRoom(roomId);
      return;
    }
    const room = state.rooms.get(roomId);
    if (!room) return;
    room.members = (room.members || []).filter((m) => m.user_id !== userId);
    if (pane?.room.id === roomId) {
      pane.updateRoom(room);
      pane.clearTypist(userId);
    }
    renderRooms();
  },
};

// ---- start ----------------------------------------------------------------------------------------------

onSessionEnded((reason) => showLogin(reason));
onTokenRefreshed((token) => realtime?.useToken(token));

if (restoreSession()) {
  // A reload within this tab: check the saved session still works (refreshing it if needed) before using it.
  request('GET', '/api/users/me')
    .then(() => startChat())
    .catch((failure) => {
      if (accessToken()) showLogin(describeError(failure));
    });
} else {
  showLogin();
}

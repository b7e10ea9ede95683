// The client's state: the logged-in user, the rooms, and the display names of everyone seen so far.

export const state = {
  me: null, // the logged-in user
  rooms: new Map(), // room id -> room as the API shows it (unread_count kept locally between refreshes)
  names: new Map(), // user id -> display name, kept after someone leaves so old messages still show it
  openRoomId: null,
};

/** Remember the display names of a room's members. */
export function learnNames(room) {
  for (const member of room.members || []) state.names.set(member.user_id, member.display_name);
}

/**
 * Store a room from the API or an event. Events omit `unread_count` and `mention_count` (they differ per
 * reader), so an absent one keeps what we had.
 */
export function putRoom(room) {
  const previous = state.rooms.get(room.id);
  const merged = { ...previous, ...room };
  if (room.unread_count === undefined) merged.unread_count = previous?.unread_count ?? 0;
  if (room.mention_count === undefined) merged.mention_count = previous?.mention_count ?? 0;
  if (room.last_message === undefined) merged.last_message = previous?.last_message ?? null;
  state.rooms.set(room.id, merged);
  learnNames(merged);
  return merged;
}

export function nameOf(userId) {
  return state.names.get(userId) || 'Former member';
}

/** A room's title: a group's name, or for a direct room the other person's name. */
export function roomTitle(room) {
  if (room.room_type === 'group') return room.name || 'Unnamed group';
  const other = (room.members || []).find((m) => m.user_id !== state.me.id);
  return other ? other.display_name : 'Direct message';
}

export function isAdmin(room) {
  return (room.members || []).some((m) => m.user_id === state.me.id && m.is_admin);
}

/** When a room last saw activity: its newest message, else its creation. */
function activity(room) {
  return room.last_message?.created_at || room.created_at || '';
}

/** Rooms, most recent activity first (ties broken by id, as the server does). */
export function sortedRooms() {
  return [...state.rooms.values()].sort((a, b) => {
    const byTime = Date.parse(activity(b)) - Date.parse(activity(a));
    return byTime || (a.id < b.id ? 1 : -1);
  });
}

// The official socket.io-client with its default transports (long-polling, then the upgrade to websocket),
// for tests/system/test_nginx_topology.py: it connects through nginx (or straight to one instance) and reports
// everything, naming the engine.io session so the test can find its requests in the access logs.
//
// Config: one JSON object as argv[2]:
//   url          base URL (nginx's, or an instance's)
//   token        access token, sent in the auth payload
//   room_id      room to join (join_room with an ack) once the transport has upgraded to websocket
//   timeout_ms   give up after this long whatever happens (default 30000)
//
// Output: one JSON line per thing that happens, {"event", "data", "transport"}, where `transport` is the
// engine's transport at that moment. Server events keep their names; the client's own are `open` {sid}
// (the engine's first transport is connected), `connect` {id}, `connect_error` {message, data}, `upgrade` {sid},
// `upgrade_error` {message}, `disconnect` {reason}, `ack:join_room` (the server's acknowledgement) and a last
// `exit` {reason}. Closing stdin closes the socket and ends the script (reason "stdin closed").
import { io } from 'socket.io-client';

const config = JSON.parse(process.argv[2]);

let socket;

function print(event, data) {
  const transport = socket?.io.engine?.transport?.name ?? null;
  process.stdout.write(JSON.stringify({ event, data: data ?? null, transport }) + '\n');
}

let finished = false;
function finish(reason, code = 0) {
  if (finished) return;
  finished = true;
  socket?.close();
  print('exit', { reason });
  // Let stdout drain before leaving; a pipe write may still be pending.
  process.stdout.write('', () => process.exit(code));
}

setTimeout(() => finish('timeout', 1), config.timeout_ms ?? 30000).unref();

socket = io(config.url, {
  path: '/socket.io',
  auth: { token: config.token },
  reconnection: false, // a refused or dropped connection is reported, never retried behind the test's back
});

const upgraded = new Promise((resolve) => {
  socket.io.on('open', () => {
    const engine = socket.io.engine;
    print('open', { sid: engine.id });
    engine.on('upgrade', () => {
      print('upgrade', { sid: engine.id });
      resolve();
    });
    engine.on('upgradeError', (err) => print('upgrade_error', { message: String(err?.message ?? err) }));
  });
});

socket.onAny((event, ...args) => print(event, args.length > 1 ? args : args[0]));
socket.on('connect_error', (err) => {
  print('connect_error', { message: err.message, data: err.data ?? null });
  finish('connect_error');
});
socket.on('disconnect', (reason) => print('disconnect', { reason }));

socket.on('connect', async () => {
  print('connect', { id: socket.id });
  if (!config.room_id) return;
  await upgraded;
  try {
    print('ack:join_room', await socket.timeout(10000).emitWithAck('join_room', { room_id: config.room_id }));
  } catch (err) {
    finish(`no acknowledgement to join_room: ${err.message}`, 1);
  }
});

process.stdin.on('data', () => {}); // stdin is only watched for its end
process.stdin.on('end', () => finish('stdin closed'));

'use strict';
/** tcp-echo on Node core: a `net` server writing every chunk back on the connection it came from. */
const net = require('net');
const { ready, onStop } = require('../../lib/impl');

const sockets = new Set();
const server = net.createServer({ noDelay: true }, (socket) => {
  sockets.add(socket);
  socket.on('data', (chunk) => socket.write(chunk));
  socket.on('error', () => {}); // the client going away at the end is not a failure
  socket.on('close', () => sockets.delete(socket));
});
server.listen(0, '127.0.0.1', () => ready({ port: server.address().port }));
onStop(() => {
  server.close();
  for (const s of sockets) s.destroy();
  process.stdout.write(JSON.stringify({ result: {} }) + '\n');
});

import { cleanup, makeCerts, message, RelayProcess, sendUdp, sleep, Tail } from './relay-helpers';
afterEach(cleanup);
test('dbg', async () => {
  const certs = makeCerts();
  const relay = await RelayProcess.start(['--cert', certs.serverCert, '--key', certs.serverKey, '--ca', certs.ca]);
  const tails = [await Tail.start(relay, certs), await Tail.start(relay, certs), await Tail.start(relay, certs)];
  tails[0].child.kill('SIGSTOP');
  await sendUdp(relay.udpPort, Array.from({length: 500}, (_, i) => message(i)));
  await sleep(1000);
  console.log(tails.map(t => t.messages.length), await relay.stats());
  tails[0].child.kill('SIGCONT');
  await sleep(1000);
  console.log(tails.map(t => t.messages.length), await relay.stats(), relay.events.slice(-5), tails.map(t=>t.stderr));
}, 20000);

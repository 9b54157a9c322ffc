/**
 * `--demo`: a development CA, a server certificate for 127.0.0.1/::1/localhost and a client
 * certificate, made once into a directory (keys mode 0600) and reused afterwards.
 */
import * as fs from 'fs';
import * as path from 'path';
import { makeClientCert, makeDevCa, makeServerCert } from '../tls';

export const DEFAULT_DEMO_DIR = '.logrelay-demo';

export interface DemoFiles {
  dir: string;
  ca: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

export function demoFiles(dir: string = DEFAULT_DEMO_DIR): DemoFiles {
  const abs = path.resolve(dir);
  const f = (name: string) => path.join(abs, name);
  return {
    dir: abs,
    ca: f('ca.pem'),
    caKey: f('ca-key.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server-key.pem'),
    clientCert: f('client.pem'),
    clientKey: f('client-key.pem'),
  };
}

/** Makes the demo certificates unless all of them already exist; returns their paths. */
export function ensureDemo(dir?: string): DemoFiles {
  const files = demoFiles(dir);
  const all = [files.ca, files.caKey, files.serverCert, files.serverKey, files.clientCert, files.clientKey];
  if (all.every((f) => fs.existsSync(f))) return files;
  fs.mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  const ca = makeDevCa({ cn: 'logrelay demo CA' });
  const server = makeServerCert(ca, { cn: 'logrelay demo server' });
  const client = makeClientCert(ca, { cn: 'logrelay demo subscriber' });
  const write = (file: string, text: string, mode: number) => {
    fs.writeFileSync(file, text, { mode });
    fs.chmodSync(file, mode); // an existing file keeps its old mode otherwise
  };
  write(files.ca, ca.cert, 0o644);
  write(files.caKey, ca.key, 0o600);
  write(files.serverCert, server.cert, 0o644);
  write(files.serverKey, server.key, 0o600);
  write(files.clientCert, client.cert, 0o644);
  write(files.clientKey, client.key, 0o600);
  return files;
}

import { Pollset, pipe, write, close } from '../lib';

test('a pipe with data is reported readable on every compiled-in backend', () => {
  for (const backend of Pollset.backends) {
    const ps = new Pollset<string>({ backend });
    const [r, w] = pipe();
    ps.insert(r, 'r', 'pipe');
    write(w, Buffer.from('x'));
    expect(ps.wait(1000)).toBe(1);
    expect([...ps.events()].map((e) => [e.obj, e.read])).toEqual([['pipe', true]]);
    ps.close();
    close(r);
    close(w);
  }
});

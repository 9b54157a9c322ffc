import { Address, resolveAddress } from '../lib';
import { describeOnLinux } from './helpers/platform';

describe('Address', () => {
  test.each([
    ['127.0.0.1:5514', 'ipv4', '127.0.0.1', 5514],
    ['0.0.0.0:0', 'ipv4', '0.0.0.0', 0],
    ['[::1]:6514', 'ipv6', '::1', 6514],
    ['[2001:db8::8:800:200c:417a]:65535', 'ipv6', '2001:db8::8:800:200c:417a', 65535],
    ['/run/x.sock', 'unix', '/run/x.sock', 0],
  ])('%s parses and formats back to itself', (text, family, host, port) => {
    const addr = Address.parse(text);
    expect(addr.family).toBe(family);
    expect(addr.host).toBe(host);
    expect(addr.port).toBe(port);
    // Formatting from the bytes alone gives the same text.
    expect(Address.fromRaw(addr.raw).toString()).toBe(text);
  });

  test('IPv6 text is normalized by the formatter', () => {
    expect(Address.fromRaw(Address.parse('[0:0:0:0:0:0:0:1]:80').raw).toString()).toBe('[::1]:80');
  });

  describeOnLinux('abstract unix names', 'abstract unix sockets are a Linux feature', () => {
    test('an abstract unix name round-trips as @name', () => {
      const addr = Address.parse('@pollset-test');
      expect(addr.family).toBe('unix');
      expect(Address.fromRaw(addr.raw).toString()).toBe('@pollset-test');
    });
  });

  test.each([
    'localhost:5514',
    '127.0.0.1',
    '127.0.0.1:',
    '127.0.0.1:65536',
    '127.0.0.1:-1',
    '127.0.0.1:80x',
    '1.2.3:80',
    '::1:80',
    '[::1]6514',
    '[::1:6514',
    '[nothost]:1',
    '/' + 'x'.repeat(200),
  ])('%s is EINVAL naming the input', (text) => {
    expect(() => Address.parse(text)).toThrow(
      expect.objectContaining({
        code: 'EINVAL',
        errno: -22,
        syscall: 'parseAddress',
        address: text,
        message: `EINVAL: invalid argument, parseAddress ${text}`,
      }),
    );
  });

  test('the empty string is EINVAL', () => {
    expect(() => Address.parse('')).toThrow(expect.objectContaining({ code: 'EINVAL', address: '' }));
  });

  test('equals compares the endpoint', () => {
    expect(Address.parse('127.0.0.1:1').equals(Address.parse('127.0.0.1:1'))).toBe(true);
    expect(Address.parse('127.0.0.1:1').equals(Address.parse('127.0.0.1:2'))).toBe(false);
  });

  test('resolveAddress looks up a host name, and passes numeric addresses through', async () => {
    expect((await resolveAddress('localhost:5514', 4)).toString()).toBe('127.0.0.1:5514');
    expect((await resolveAddress('[::1]:1')).toString()).toBe('[::1]:1');
    await expect(resolveAddress('not an address')).rejects.toMatchObject({ code: 'EINVAL' });
  });
});

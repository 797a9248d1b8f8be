/**
 * M10: staff logins and staff pages only from the operator's networks. The list comes from
 * config (STAFF_ALLOWED_CIDRS); outside it, staff accounts behave as if they did not exist.
 */
import { BlockList, isIP } from 'node:net';
import { parseCidr } from '../../config.ts';

export function staffNetwork(cidrs: string[]): (ip: string) => boolean {
  const list = new BlockList();
  for (const c of cidrs) {
    const p = parseCidr(c);
    if (p) list.addSubnet(p.address, p.prefix, p.family);
  }
  return (ip: string) => {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(ip)?.[1];
    const addr = mapped ?? ip;
    const family = isIP(addr) === 4 ? 'ipv4' : isIP(addr) === 6 ? 'ipv6' : undefined;
    return family !== undefined && list.check(addr, family);
  };
}

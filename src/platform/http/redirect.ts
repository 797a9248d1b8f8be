/**
 * M9: when Samtale serves TLS itself, a plain-HTTP listener does nothing but send browsers to the
 * https address (308 keeps the method). It reads no body, sets no cookie and serves no page.
 */
import http from 'node:http';

export function httpsRedirectServer(publicHttpsPort: number, publicUrl: string | undefined): http.Server {
  return http.createServer((req, res) => {
    const fixed = publicUrl ? new URL(publicUrl) : undefined;
    const hostHeader = (req.headers.host ?? '').replace(/:\d+$/, '');
    // Only a plain host name goes into the Location header; anything odd gets the configured one.
    const host = fixed?.hostname ?? (/^[a-z0-9.-]{1,253}$/i.test(hostHeader) ? hostHeader : 'localhost');
    const port = fixed ? fixed.port : publicHttpsPort === 443 ? '' : String(publicHttpsPort);
    const path = (req.url ?? '/').startsWith('/') ? (req.url ?? '/') : '/';
    res.writeHead(308, { location: `https://${host}${port ? `:${port}` : ''}${path}`, 'cache-control': 'no-store', 'content-length': '0' });
    res.end();
  });
}

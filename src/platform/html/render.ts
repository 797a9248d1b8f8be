import type { FastifyReply } from 'fastify';
import type { VNode } from 'preact';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyVNode = VNode<any>;
import { render } from 'preact-render-to-string';

/** Text and attributes are escaped by preact-render-to-string; nothing here builds HTML by hand. */
export function sendPage(reply: FastifyReply, page: AnyVNode, status = 200): FastifyReply {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .send('<!doctype html>' + render(page));
}

export function sendFragment(reply: FastifyReply, fragment: AnyVNode, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(render(fragment));
}

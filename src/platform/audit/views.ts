/**
 * "Viewed by" (M14): every read of a document (a dialogue, a file, an export) writes a row in
 * document_views in the same transaction as the read, so there is no read without its row, and a
 * failed write fails the read. The list at the top of each document groups repeated views by the
 * same person (every view is kept); support staff are shown as support.
 */
import type { Tx } from '../db/context.ts';

export type ViewedObject = 'dialogue' | 'file' | 'export';
export type ViewerRole = 'employee' | 'leader' | 'delegate' | 'admin' | 'support';

export async function recordView(
  trx: Tx,
  input: { companyId: string; objectType: ViewedObject; objectId: string; viewer: { userId: string } | { staffId: string }; role: ViewerRole; at: Date },
): Promise<void> {
  await trx
    .insertInto('document_views')
    .values({
      company_id: input.companyId,
      object_type: input.objectType,
      object_id: input.objectId,
      viewer_user_id: 'userId' in input.viewer ? input.viewer.userId : null,
      viewer_staff_id: 'staffId' in input.viewer ? input.viewer.staffId : null,
      viewer_role: input.role,
      viewed_at: input.at,
    })
    .execute();
}

export type Viewer = {
  /** Null for support staff (shown as "Samtale support") and people no longer visible. */
  name: string | null;
  role: ViewerRole;
  support: boolean;
  count: number;
  lastViewedAt: Date;
};

/** Who has viewed the document, one entry per person and role, most recent first. */
export async function listViewers(trx: Tx, objectType: ViewedObject, objectId: string): Promise<Viewer[]> {
  const rows = await trx
    .selectFrom('document_views as v')
    .leftJoin('users as u', 'u.id', 'v.viewer_user_id')
    .select((eb) => [
      'v.viewer_user_id',
      'v.viewer_staff_id',
      'v.viewer_role',
      'u.name',
      eb.fn.countAll<number>().as('views'),
      eb.fn.max('v.viewed_at').as('last'),
    ])
    .where('v.object_type', '=', objectType)
    .where('v.object_id', '=', objectId)
    .groupBy(['v.viewer_user_id', 'v.viewer_staff_id', 'v.viewer_role', 'u.name'])
    .orderBy('last', 'desc')
    .limit(200)
    .execute();
  return rows.map((r) => ({
    name: r.viewer_staff_id ? null : (r.name ?? null),
    role: r.viewer_role as ViewerRole,
    support: r.viewer_staff_id !== null,
    count: Number(r.views),
    lastViewedAt: new Date(r.last as unknown as string),
  }));
}

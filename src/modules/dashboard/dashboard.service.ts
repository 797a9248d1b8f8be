import { sql } from 'kysely';
import type { AppDeps } from '../../platform/deps.ts';
import type { UserActor } from '../../platform/auth/actor.ts';
import { withTenant } from '../../platform/db/context.ts';

export type Dashboard = Awaited<ReturnType<typeof getDashboard>>;

/** What the overview shows depends on the role; every query runs inside the actor's company. */
export async function getDashboard(deps: AppDeps, actor: UserActor) {
  return withTenant(deps.database, { companyId: actor.companyId, userId: actor.userId }, async (trx) => {
    const me = await trx
      .selectFrom('employments as e')
      .leftJoin('teams as t', 't.id', 'e.team_id')
      .select(['e.title', 'e.role', 't.name as teamName', sql<string | null>`case when e.team_id is null then null else team_responsible_employment(e.team_id) end`.as('leaderEmploymentId')])
      .where('e.id', '=', actor.employmentId)
      .executeTakeFirstOrThrow();
    const leader = me.leaderEmploymentId
      ? await trx
          .selectFrom('employments as e')
          .innerJoin('users as u', 'u.id', 'e.user_id')
          .select(['u.name'])
          .where('e.id', '=', me.leaderEmploymentId)
          .executeTakeFirst()
      : undefined;

    const myTeams =
      actor.role === 'employee'
        ? []
        : await trx
            .selectFrom('teams as t')
            .select([
              't.id',
              't.name',
              (eb) =>
                eb
                  .selectFrom('employments as e')
                  .select(eb.fn.countAll<number>().as('n'))
                  .whereRef('e.team_id', '=', 't.id')
                  .where('e.fired_at', 'is', null)
                  .as('members'),
            ])
            .where(sql<boolean>`team_responsible_employment(t.id) = ${actor.employmentId}`)
            .orderBy('t.name')
            .execute();

    const delegations = await trx
      .selectFrom('delegations as d')
      .leftJoin('teams as t', 't.id', 'd.team_id')
      .leftJoin('departments as dep', 'dep.id', 'd.department_id')
      .select(['d.id', 'd.responsibility', 'd.department_id', 't.name as teamName', 'dep.name as departmentName'])
      .where('d.employment_id', '=', actor.employmentId)
      .orderBy('d.responsibility')
      .execute();

    const counts =
      actor.role === 'company_admin'
        ? await trx
            .selectNoFrom((eb) => [
              eb.selectFrom('departments').select(eb.fn.countAll<number>().as('n')).as('departments'),
              eb.selectFrom('teams').select(eb.fn.countAll<number>().as('n')).as('teams'),
              eb.selectFrom('employments').select(eb.fn.countAll<number>().as('n')).where('fired_at', 'is', null).as('employees'),
              eb.selectFrom('employments').select(eb.fn.countAll<number>().as('n')).where('fired_at', 'is not', null).as('fired'),
            ])
            .executeTakeFirstOrThrow()
        : undefined;

    const otherCompanies = await trx
      .selectFrom('employments as e')
      .innerJoin('companies as c', 'c.id', 'e.company_id')
      .select(['c.id', 'c.name'])
      .where('e.user_id', '=', actor.userId)
      .where('e.fired_at', 'is', null)
      .where('e.company_id', '<>', actor.companyId)
      .orderBy('c.name')
      .execute();

    return { me, leaderName: leader?.name ?? null, myTeams, delegations, counts, otherCompanies };
  });
}

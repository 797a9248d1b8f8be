/**
 * Averages of scale answers with an anonymity threshold. Pure functions, tested on their own.
 *
 * Design note: an average is shown only where at least `threshold` people answered (a company
 * setting, never below 3). Showing the round's overall average next to per-team averages could
 * still single someone out by subtraction (overall of 6 minus a team of 5 leaves one person), so
 * per-team averages of a question are shown only when every team with answers reaches the
 * threshold; otherwise only the overall figure (if it reaches it). Counts of suppressed groups
 * are not shown either.
 */
export type ScaleAnswer = { team_id: string | null; question_id: string; value: string };
export type Cell = { shown: true; n: number; average: number } | { shown: false };
export type QuestionStats = { questionId: string; overall: Cell; teams: Record<string, Cell> };

export const MIN_THRESHOLD = 3;

function cell(values: number[], threshold: number): Cell {
  if (values.length < Math.max(threshold, MIN_THRESHOLD)) return { shown: false };
  const sum = values.reduce((a, b) => a + b, 0);
  return { shown: true, n: values.length, average: Math.round((sum / values.length) * 10) / 10 };
}

export function aggregate(answers: readonly ScaleAnswer[], questionIds: readonly string[], teamIds: readonly string[], threshold: number): QuestionStats[] {
  return questionIds.map((questionId) => {
    const mine = answers.filter((a) => a.question_id === questionId && /^[1-5]$/.test(a.value));
    const values = (list: readonly ScaleAnswer[]) => list.map((a) => Number(a.value));
    const overall = cell(values(mine), threshold);
    const perTeam = teamIds.map((teamId) => ({ teamId, values: values(mine.filter((a) => a.team_id === teamId)) }));
    // Answers from dialogues whose team is gone form a group of their own in the safety check.
    const orphans = { teamId: '', values: values(mine.filter((a) => a.team_id === null || !teamIds.includes(a.team_id))) };
    const allTeamsSafe = [...perTeam, orphans].every((x) => x.values.length === 0 || x.values.length >= Math.max(threshold, MIN_THRESHOLD));
    const teams: Record<string, Cell> = {};
    for (const x of perTeam) teams[x.teamId] = allTeamsSafe ? cell(x.values, threshold) : { shown: false };
    return { questionId, overall, teams };
  });
}

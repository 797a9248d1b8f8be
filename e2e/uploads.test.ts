/**
 * Issue 7 in Chromium: an employee sends a clean PDF and an EICAR file to the company's secure
 * inbox through the browser (upload.js with its progress bar), at phone width; the PDF is
 * accepted and the EICAR file refused with a plain message; the admin sees the refused-file
 * notice, downloads the PDF (attachment, audited). Then the same form without JavaScript.
 * axe-core on every page; no CSP violation.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { clamdAddress, EICAR, pdf } from '../test/helpers/files.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';
import { browserSuite, checkA11y, cspViolations, horizontalOverflow, loginThroughForm } from './helpers.ts';

const clamd = clamdAddress();
if (!clamd) console.warn('SKIPPED e2e/uploads.test.ts: no clamd (run scripts/clamd.sh start, or npm test)');

let dir: string;

const PHONE = { viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true };

describe.skipIf(!clamd)('secure inbox in Chromium', () => {
  const e2e = browserSuite({ env: { CLAMD_HOST: clamd?.host ?? '', CLAMD_PORT: clamd?.port ?? '' } });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samtale-uploads-'));
    fs.writeFileSync(path.join(dir, 'sygemelding.pdf'), pdf('clean'));
    fs.writeFileSync(path.join(dir, 'eicar.txt'), EICAR);
  });

  afterAll(async () => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('P2 P5 a clean PDF is accepted and downloadable (logged), an EICAR file is refused with a clear message', async () => {
    const me = await e2e.session(PHONE);
    await loginThroughForm(me.page, e2e.company.employee.email);
    await me.page.goto('/inbox');
    await checkA11y(me.page, 'inbox, employee');
    expect(await horizontalOverflow(me.page).then((o) => o.scrollWidth <= o.innerWidth)).toBe(true);
    await me.page.locator('input[type="file"]').setInputFiles([path.join(dir, 'sygemelding.pdf'), path.join(dir, 'eicar.txt')]);
    await me.page.locator('form.upload-form button[type="submit"]').click();
    // upload.js puts the results into the page without a reload.
    const results = me.page.locator('#upload-results section');
    await results.waitFor();
    const text = await results.innerText();
    expect(text).toContain('sygemelding.pdf: modtaget og virusscannet');
    expect(text).toContain('eicar.txt: afvist. Virusscanningen fandt skadeligt indhold');
    expect(me.page.url()).toContain('/inbox');
    await checkA11y(me.page, 'inbox, results');
    expect(cspViolations(me)).toEqual([]);
    expect(me.pageErrors).toEqual([]);

    const admin = await e2e.session(PHONE);
    await loginThroughForm(admin.page, e2e.company.admin.email);
    await admin.page.goto('/inbox');
    await checkA11y(admin.page, 'inbox, admin');
    expect(await horizontalOverflow(admin.page).then((o) => o.scrollWidth <= o.innerWidth)).toBe(true);
    expect(await admin.page.locator('.refused-files').innerText()).toContain('eicar.txt');
    const [download] = await Promise.all([admin.page.waitForEvent('download'), admin.page.locator('a', { hasText: 'sygemelding.pdf' }).click()]);
    expect(download.suggestedFilename()).toBe('sygemelding.pdf');
    const saved = path.join(dir, 'downloaded.pdf');
    await download.saveAs(saved);
    expect(fs.readFileSync(saved).equals(pdf('clean'))).toBe(true);
    const events = await unsafeSystemTransaction(e2e.running.deps.database, (trx) =>
      trx.selectFrom('audit_events').select('event_type').where('company_id', '=', e2e.company.companyId).where('event_type', 'like', 'files.%').execute(),
    );
    expect(events.map((e) => e.event_type)).toEqual(expect.arrayContaining(['files.uploaded', 'files.available', 'files.infected', 'files.downloaded']));
    expect(cspViolations(admin)).toEqual([]);
    await me.context.close();
    await admin.context.close();
  });

  test('P2 the form works without JavaScript', async () => {
    const me = await e2e.session({ ...PHONE, javaScriptEnabled: false });
    await loginThroughForm(me.page, e2e.company.colleague.email);
    await me.page.goto('/inbox');
    await me.page.locator('input[type="file"]').setInputFiles([path.join(dir, 'sygemelding.pdf')]);
    await Promise.all([me.page.waitForLoadState('load'), me.page.locator('form.upload-form button[type="submit"]').click()]);
    await me.page.waitForSelector('#upload-results section');
    expect(await me.page.locator('#upload-results').innerText()).toContain('sygemelding.pdf: modtaget og virusscannet');
    await me.context.close();
  });
});

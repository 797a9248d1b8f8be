/**
 * M2 in a real browser: an employee adds a passkey on /account/two-factor and logs in with it,
 * using Chromium's virtual authenticator (CDP WebAuthn domain: CTAP2, internal transport, resident
 * key, user verification). WebAuthn needs a domain as RP ID, so the browser talks to
 * http://localhost:<port> rather than 127.0.0.1. Without JavaScript the passkey parts stay hidden.
 */
import { describe, expect, test } from 'vitest';
import { PASSWORD } from '../test/helpers/factories.ts';
import { browserSuite, checkA11y, cspViolations, horizontalOverflow, loginThroughForm, logoutThroughForm } from './helpers.ts';

const e2e = browserSuite({ host: 'localhost' });

describe('passkey journey in Chromium', () => {
  test('M2 add a passkey with a virtual authenticator, log in with it, and remove it', async () => {
    const s = await e2e.session();
    const { page, context } = s;
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });

    const email = e2e.company.employee.email;
    await loginThroughForm(page, email);
    expect(new URL(page.url()).pathname).toBe('/dashboard');

    await page.goto('/account/two-factor');
    const addForm = page.locator('form[data-webauthn="register"]');
    await expect.poll(() => addForm.isVisible()).toBe(true);
    await checkA11y(page, 'two-factor with passkeys');
    await page.locator('#passkeyName').fill('Min testnøgle');
    // A wrong password: the script shows the server's message in the form's live region.
    await page.locator('#passkeyPassword').fill('not my password');
    await addForm.locator('button[type="submit"]').click();
    await expect.poll(() => addForm.locator('[data-webauthn-status]').innerText()).toContain('forkert');
    expect(new URL(page.url()).pathname).toBe('/account/two-factor');
    await page.locator('#passkeyPassword').fill(PASSWORD);
    await Promise.all([page.waitForURL((u) => u.pathname === '/account/two-factor/passkeys'), addForm.locator('button[type="submit"]').click()]);
    // The first factor: ten recovery codes, shown once.
    const body = await page.locator('main').innerText();
    expect(body.match(/\b[a-z0-9]{4}(?:-[a-z0-9]{4}){3}\b/gi)?.length ?? 0).toBeGreaterThanOrEqual(10);
    await checkA11y(page, 'recovery codes after the first passkey');

    await page.goto('/account/two-factor');
    await expect.poll(() => page.locator('.passkey-list li').count()).toBe(1);
    expect(await page.locator('.passkey-list').innerText()).toContain('Min testnøgle');
    await checkA11y(page, 'two-factor with one passkey');
    // Phone width: nothing scrolls sideways.
    await page.setViewportSize({ width: 360, height: 740 });
    const o = await horizontalOverflow(page);
    expect(o.scrollWidth).toBeLessThanOrEqual(o.innerWidth);
    await page.setViewportSize({ width: 1280, height: 800 });

    await page.goto('/dashboard');
    await logoutThroughForm(page);

    e2e.running.clock.advance(60_000);
    await loginThroughForm(page, email);
    expect(new URL(page.url()).pathname).toBe('/login/second-factor');
    const usePasskey = page.locator('#passkey-login');
    await expect.poll(() => usePasskey.isVisible()).toBe(true);
    await checkA11y(page, 'second factor with passkey');
    await Promise.all([page.waitForURL((u) => u.pathname === '/dashboard'), usePasskey.click()]);

    // Removing it: the current password and an answer from the key (no authenticator app here).
    await page.goto('/account/two-factor');
    const removeForm = page.locator('form[data-webauthn="reauth"]');
    await expect.poll(() => removeForm.isVisible()).toBe(true);
    await page.locator('#removePassword').fill(PASSWORD);
    await Promise.all([page.waitForURL((u) => u.search === '?passkey=removed'), removeForm.locator('button[type="submit"]').click()]);
    expect(await page.locator('.passkey-list li').count()).toBe(0);
    await checkA11y(page, 'two-factor after removing the passkey');

    expect(cspViolations(s)).toEqual([]);
    expect(s.pageErrors).toEqual([]);
    await context.close();
  });

  test('without JavaScript the passkey parts stay hidden and the code forms work', async () => {
    const s = await e2e.session({ javaScriptEnabled: false });
    const { page } = s;
    await loginThroughForm(page, e2e.company.colleague.email);
    await page.goto('/account/two-factor');
    expect(await page.locator('form[data-webauthn="register"]').isVisible()).toBe(false);
    expect(await page.locator('[data-webauthn-nojs]').first().isVisible()).toBe(true);
    expect(await page.locator('form[action="/account/two-factor/start"]').isVisible()).toBe(true);
    await s.context.close();
  });
});

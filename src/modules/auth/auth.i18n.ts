import { defineMessages } from '../../platform/i18n/i18n.ts';

export const authMessages = defineMessages({
  da: {
    loginTitle: 'Log ind',
    loginIntro: 'Log ind med din e-mailadresse og adgangskode.',
    email: 'E-mail',
    password: 'Adgangskode',
    loginButton: 'Log ind',
    loginFailed: 'E-mail eller adgangskode er forkert, eller kontoen kan ikke bruges lige nu.',
    loggedOut: 'Du er logget ud.',
    secondFactorExpired: 'Log ind igen: trinnet med koden udløb eller blev afbrudt.',
  },
  en: {
    loginTitle: 'Log in',
    loginIntro: 'Log in with your e-mail address and password.',
    email: 'E-mail',
    password: 'Password',
    loginButton: 'Log in',
    loginFailed: 'The e-mail or password is wrong, or the account cannot be used right now.',
    loggedOut: 'You are logged out.',
    secondFactorExpired: 'Please log in again: the code step expired or was interrupted.',
  },
  sv: {
    loginTitle: 'Logga in',
    loginIntro: 'Logga in med din e-postadress och ditt lösenord.',
    email: 'E-post',
    password: 'Lösenord',
    loginButton: 'Logga in',
    loginFailed: 'E-postadressen eller lösenordet är fel, eller så kan kontot inte användas just nu.',
    loggedOut: 'Du är utloggad.',
    secondFactorExpired: 'Logga in igen: steget med koden gick ut eller avbröts.',
  },
});

import { defineMessages } from '../i18n/i18n.ts';

/** The 503 page while no database server accepts writes (a failover in progress, M11). */
export const databaseUnavailable = defineMessages({
  da: {
    title: 'Prøv igen om lidt',
    body: 'Samtale kunne ikke nå sin database lige nu, så det du sendte er måske ikke gemt. Det, der allerede var gemt, er i behold. Vent et øjeblik, og prøv så igen.',
  },
  en: {
    title: 'Please try again in a moment',
    body: 'Samtale could not reach its database just now, so what you sent may not have been saved. Everything saved before is safe. Wait a moment, then try again.',
  },
  sv: {
    title: 'Försök igen om en stund',
    body: 'Samtale kunde inte nå sin databas just nu, så det du skickade kanske inte sparades. Allt som sparats tidigare finns kvar. Vänta en stund och försök sedan igen.',
  },
});

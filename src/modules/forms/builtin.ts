/**
 * The forms every company has from the start, written for Samtale. Kept short on purpose (long
 * forms are the top complaint about MUS): at most about a dozen questions each.
 *
 * A built-in form is copied into a company's own tables the first time it is used (forms.service
 * ensureBuiltinVersion). Changing a definition here means raising its `version`: the next use then
 * stores a new immutable version, and running dialogues keep the one they started with.
 */
import type { FormKind, Language } from '../../platform/db/schema.ts';
import { formDefinitionSchema, type FormDefinition, type Question } from './form-definition.ts';

export type BuiltinForm = { key: string; kind: FormKind; language: Language; name: string; version: number; definition: FormDefinition };

const scale = (labels: [string, string, string, string, string]) => ({ type: 'scale' as const, scaleLabels: labels });

function musDa(): FormDefinition {
  const agree = scale(['Slet ikke', 'I ringe grad', 'Til dels', 'I høj grad', 'I meget høj grad']);
  return {
    sections: [
      {
        id: 'back',
        title: 'Tilbageblik',
        intro: 'Tænk på tiden siden jeres sidste samtale.',
        questions: [
          { id: 'last_agreements', type: 'agreements', answeredBy: 'meeting', text: 'Aftaler fra sidste samtale', help: 'Åbne aftaler fra sidste år er hentet ind. Gå dem igennem sammen, og ret status.' },
          { id: 'proud', type: 'text', answeredBy: 'both', text: 'Hvad er du (medarbejderen) mest tilfreds med fra det forløbne år?' },
          { id: 'hard', type: 'text', answeredBy: 'both', text: 'Hvad har været svært, og hvad lærte vi af det?' },
        ],
      },
      {
        id: 'now',
        title: 'Her og nu',
        questions: [
          { id: 'tasks', type: 'text', answeredBy: 'employee', text: 'Hvordan passer dine opgaver til dine kompetencer og din tid?' },
          { id: 'wellbeing', answeredBy: 'employee', text: 'Jeg trives i mit arbejde.', ...agree },
          { id: 'workload', type: 'single', answeredBy: 'employee', text: 'Min arbejdsmængde er', options: [{ id: 'low', label: 'for lille' }, { id: 'fine', label: 'passende' }, { id: 'high', label: 'for stor' }] },
          { id: 'collab', type: 'text', answeredBy: 'both', text: 'Hvordan fungerer samarbejdet med kolleger og andre afdelinger?' },
          { id: 'leader_feedback', type: 'text', answeredBy: 'employee', text: 'Feedback til din leder: hvad skal jeg (lederen) blive ved med, og hvad kan jeg gøre anderledes?', help: 'Vær konkret. Lederen ser svaret først, når I begge har afsluttet forberedelsen, eller når mødet starter.' },
        ],
      },
      {
        id: 'forward',
        title: 'Fremadrettet',
        questions: [
          { id: 'wishes', type: 'text', answeredBy: 'both', text: 'Udviklingsønsker: hvad vil du (medarbejderen) gerne lære eller prøve det næste år?' },
          { id: 'competences', type: 'multiple', answeredBy: 'employee', text: 'Hvilke former for udvikling er relevante for dig?', options: [{ id: 'course', label: 'kursus eller uddannelse' }, { id: 'tasks', label: 'nye opgaver' }, { id: 'mentor', label: 'sparring eller mentor' }, { id: 'network', label: 'netværk' }] },
          { id: 'stay', type: 'yes_no', answeredBy: 'employee', text: 'Ser du dig selv i din nuværende stilling om et år?' },
          { id: 'meeting_summary', type: 'text', answeredBy: 'meeting', text: 'Fælles opsummering af samtalen' },
          { id: 'new_agreements', type: 'agreements', answeredBy: 'meeting', text: 'Nye aftaler', help: 'Hvem gør hvad, hvornår, og hvornår følger I op?' },
        ],
      },
    ],
  };
}

function musEn(): FormDefinition {
  const agree = scale(['Not at all', 'To a small extent', 'Partly', 'To a large extent', 'Completely']);
  return {
    sections: [
      {
        id: 'back',
        title: 'Looking back',
        intro: 'Think of the time since your last dialogue.',
        questions: [
          { id: 'last_agreements', type: 'agreements', answeredBy: 'meeting', text: 'Agreements from the last dialogue', help: 'Open agreements from last year have been brought in. Go through them together and update their status.' },
          { id: 'proud', type: 'text', answeredBy: 'both', text: 'What are you (the employee) most pleased with from the past year?' },
          { id: 'hard', type: 'text', answeredBy: 'both', text: 'What has been difficult, and what did we learn from it?' },
        ],
      },
      {
        id: 'now',
        title: 'Here and now',
        questions: [
          { id: 'tasks', type: 'text', answeredBy: 'employee', text: 'How well do your tasks fit your skills and your time?' },
          { id: 'wellbeing', answeredBy: 'employee', text: 'I thrive in my work.', ...agree },
          { id: 'workload', type: 'single', answeredBy: 'employee', text: 'My workload is', options: [{ id: 'low', label: 'too small' }, { id: 'fine', label: 'about right' }, { id: 'high', label: 'too large' }] },
          { id: 'collab', type: 'text', answeredBy: 'both', text: 'How does the collaboration with colleagues and other departments work?' },
          { id: 'leader_feedback', type: 'text', answeredBy: 'employee', text: 'Feedback to your leader: what should I (the leader) keep doing, and what could I do differently?', help: 'Be specific. Your leader sees the answer only when you have both finished preparing, or when the meeting starts.' },
        ],
      },
      {
        id: 'forward',
        title: 'Looking ahead',
        questions: [
          { id: 'wishes', type: 'text', answeredBy: 'both', text: 'Development wishes: what would you (the employee) like to learn or try in the coming year?' },
          { id: 'competences', type: 'multiple', answeredBy: 'employee', text: 'Which kinds of development are relevant to you?', options: [{ id: 'course', label: 'a course or education' }, { id: 'tasks', label: 'new tasks' }, { id: 'mentor', label: 'sparring or a mentor' }, { id: 'network', label: 'a network' }] },
          { id: 'stay', type: 'yes_no', answeredBy: 'employee', text: 'Do you see yourself in your current position a year from now?' },
          { id: 'meeting_summary', type: 'text', answeredBy: 'meeting', text: 'Joint summary of the dialogue' },
          { id: 'new_agreements', type: 'agreements', answeredBy: 'meeting', text: 'New agreements', help: 'Who does what, by when, and when do you follow up?' },
        ],
      },
    ],
  };
}

function musSv(): FormDefinition {
  const agree = scale(['Inte alls', 'I liten grad', 'Delvis', 'I hög grad', 'I mycket hög grad']);
  return {
    sections: [
      {
        id: 'back',
        title: 'Tillbakablick',
        intro: 'Tänk på tiden sedan ert senaste samtal.',
        questions: [
          { id: 'last_agreements', type: 'agreements', answeredBy: 'meeting', text: 'Överenskommelser från förra samtalet', help: 'Öppna överenskommelser från förra året har hämtats in. Gå igenom dem tillsammans och uppdatera status.' },
          { id: 'proud', type: 'text', answeredBy: 'both', text: 'Vad är du (medarbetaren) mest nöjd med från det gångna året?' },
          { id: 'hard', type: 'text', answeredBy: 'both', text: 'Vad har varit svårt, och vad lärde vi oss av det?' },
        ],
      },
      {
        id: 'now',
        title: 'Här och nu',
        questions: [
          { id: 'tasks', type: 'text', answeredBy: 'employee', text: 'Hur väl passar dina arbetsuppgifter din kompetens och din tid?' },
          { id: 'wellbeing', answeredBy: 'employee', text: 'Jag trivs med mitt arbete.', ...agree },
          { id: 'workload', type: 'single', answeredBy: 'employee', text: 'Min arbetsmängd är', options: [{ id: 'low', label: 'för liten' }, { id: 'fine', label: 'lagom' }, { id: 'high', label: 'för stor' }] },
          { id: 'collab', type: 'text', answeredBy: 'both', text: 'Hur fungerar samarbetet med kollegor och andra avdelningar?' },
          { id: 'leader_feedback', type: 'text', answeredBy: 'employee', text: 'Återkoppling till din chef: vad ska jag (chefen) fortsätta med, och vad kan jag göra annorlunda?', help: 'Var konkret. Chefen ser svaret först när ni båda har avslutat förberedelsen, eller när mötet börjar.' },
        ],
      },
      {
        id: 'forward',
        title: 'Framåt',
        questions: [
          { id: 'wishes', type: 'text', answeredBy: 'both', text: 'Utvecklingsönskemål: vad vill du (medarbetaren) lära dig eller pröva under det kommande året?' },
          { id: 'competences', type: 'multiple', answeredBy: 'employee', text: 'Vilka former av utveckling är aktuella för dig?', options: [{ id: 'course', label: 'kurs eller utbildning' }, { id: 'tasks', label: 'nya uppgifter' }, { id: 'mentor', label: 'handledning eller mentor' }, { id: 'network', label: 'nätverk' }] },
          { id: 'stay', type: 'yes_no', answeredBy: 'employee', text: 'Ser du dig själv i din nuvarande tjänst om ett år?' },
          { id: 'meeting_summary', type: 'text', answeredBy: 'meeting', text: 'Gemensam sammanfattning av samtalet' },
          { id: 'new_agreements', type: 'agreements', answeredBy: 'meeting', text: 'Nya överenskommelser', help: 'Vem gör vad, när, och när följer ni upp?' },
        ],
      },
    ],
  };
}

function grusDa(): FormDefinition {
  const q = (id: string, text: string, help?: string): Question => ({ id, type: 'text', answeredBy: 'both', text, ...(help ? { help } : {}) });
  return {
    sections: [
      {
        id: 'group',
        title: 'Gruppeudviklingssamtale',
        // Version 2: the wish for an individual MUS is no longer a question (answers are shown to
        // the whole group once the meeting starts); it is a request only the leader sees.
        intro: 'Forbered jer hver for sig; svarene vises for hele gruppen, når lederen starter mødet. Ønsker du en individuel MUS, kan du bede lederen om den nederst på siden; det ser kun lederen.',
        questions: [
          q('went_well', 'Hvad er gået godt i gruppen siden sidst?'),
          q('work_together', 'Hvordan arbejder vi sammen, og hvad kan blive bedre?'),
          q('tasks_ahead', 'Hvilke opgaver og mål står vi over for det næste år?'),
          q('group_development', 'Hvilken udvikling har gruppen brug for?'),
          { id: 'group_agreements', type: 'agreements', answeredBy: 'meeting', text: 'Gruppens aftaler' },
        ],
      },
    ],
  };
}

function onboardingDa(): FormDefinition {
  const fit = scale(['Meget dårligt', 'Dårligt', 'Nogenlunde', 'Godt', 'Meget godt']);
  return {
    sections: [
      {
        id: 'start',
        title: 'De første måneder',
        questions: [
          { id: 'welcome', answeredBy: 'employee', text: 'Hvordan er du blevet taget imod?', ...fit },
          { id: 'clear_role', type: 'yes_no', answeredBy: 'employee', text: 'Er det klart, hvad der forventes af dig?' },
          { id: 'missing', type: 'text', answeredBy: 'employee', text: 'Hvad mangler du for at kunne gøre dit arbejde godt?' },
          { id: 'leader_view', type: 'text', answeredBy: 'leader', text: 'Lederens indtryk af de første måneder' },
          { id: 'next_months', type: 'text', answeredBy: 'both', text: 'Hvad skal fylde de næste måneder?' },
          { id: 'onboarding_agreements', type: 'agreements', answeredBy: 'meeting', text: 'Aftaler' },
        ],
      },
    ],
  };
}

function sicknessDa(): FormDefinition {
  return {
    sections: [
      {
        id: 'absence',
        title: 'Sygefraværssamtale',
        intro: 'Samtalen handler om, hvordan arbejdspladsen kan støtte, at du kommer godt tilbage. Du skal ikke fortælle om din diagnose.',
        questions: [
          { id: 'how_are_you', type: 'text', answeredBy: 'employee', text: 'Hvordan har du det med at vende tilbage til arbejdet?' },
          { id: 'work_related', type: 'yes_no', answeredBy: 'employee', text: 'Har fraværet helt eller delvist sammenhæng med arbejdet?' },
          { id: 'adjustments', type: 'multiple', answeredBy: 'both', text: 'Hvilke hensyn kan hjælpe?', options: [{ id: 'hours', label: 'nedsat tid i en periode' }, { id: 'tasks', label: 'andre opgaver' }, { id: 'place', label: 'hjemmearbejde eller anden arbejdsplads' }, { id: 'none', label: 'ingen særlige hensyn' }] },
          { id: 'expected_return', type: 'text', answeredBy: 'employee', text: 'Hvornår forventer du at være tilbage, helt eller delvist?' },
          { id: 'leader_support', type: 'text', answeredBy: 'leader', text: 'Hvad kan lederen og arbejdspladsen gøre?' },
          { id: 'absence_agreements', type: 'agreements', answeredBy: 'meeting', text: 'Aftaler og opfølgning' },
        ],
      },
    ],
  };
}

export const BUILTIN_FORMS: readonly BuiltinForm[] = [
  { key: 'mus-da', kind: 'mus', language: 'da', name: 'MUS', version: 1, definition: musDa() },
  { key: 'mus-en', kind: 'mus', language: 'en', name: 'Employee development dialogue', version: 1, definition: musEn() },
  { key: 'mus-sv', kind: 'mus', language: 'sv', name: 'Utvecklingssamtal', version: 1, definition: musSv() },
  { key: 'grus-da', kind: 'grus', language: 'da', name: 'GRUS (gruppeudviklingssamtale)', version: 2, definition: grusDa() },
  { key: 'onboarding-da', kind: 'onboarding', language: 'da', name: 'Onboardingsamtale', version: 1, definition: onboardingDa() },
  { key: 'sickness-da', kind: 'sickness', language: 'da', name: 'Sygefraværssamtale', version: 1, definition: sicknessDa() },
];

// A broken built-in form must stop the process at start, not a customer's round.
for (const f of BUILTIN_FORMS) formDefinitionSchema.parse(f.definition);

export function findBuiltin(key: string): BuiltinForm | undefined {
  return BUILTIN_FORMS.find((f) => f.key === key);
}

import type { Responsibility } from '../../platform/db/schema.ts';
import type { Lang } from '../../platform/i18n/i18n.ts';

const LABELS: Record<Responsibility, Record<Lang, string>> = {
  dialog_access_edp: { da: 'Adgang til MUS', en: 'Access to development dialogues (MUS)', sv: 'Åtkomst till utvecklingssamtal' },
  dialog_access_onboarding: { da: 'Adgang til onboardingsamtaler', en: 'Access to onboarding dialogues', sv: 'Åtkomst till introduktionssamtal' },
  dialog_access_siab: { da: 'Adgang til sygefraværssamtaler', en: 'Access to sickness absence dialogues', sv: 'Åtkomst till rehabiliteringssamtal' },
  dialog_access_cv: { da: 'Adgang til CV', en: 'Access to CVs', sv: 'Åtkomst till CV' },
  dialog_access_wpa: { da: 'Adgang til APV', en: 'Access to workplace assessments (APV)', sv: 'Åtkomst till arbetsmiljöenkäter' },
  manage_organisation_department: { da: 'Administrer organisationen', en: 'Manage the organisation', sv: 'Hantera organisationen' },
  configuration: { da: 'Konfiguration', en: 'Configuration', sv: 'Konfiguration' },
  department_task_report_edp: { da: 'Rapport over MUS', en: 'Development dialogue report', sv: 'Rapport över utvecklingssamtal' },
  department_task_report_siab: { da: 'Rapport over sygefraværssamtaler', en: 'Sickness absence report', sv: 'Rapport över rehabiliteringssamtal' },
  department_task_report_wpa: { da: 'Rapport over APV', en: 'Workplace assessment report', sv: 'Rapport över arbetsmiljöenkäter' },
};

export function responsibilityLabel(lang: Lang, r: Responsibility): string {
  return LABELS[r][lang];
}

/** Kysely table types. Keep in step with migrations/ (the schema test compares them). */
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json = ColumnType<Record<string, unknown>, string | Record<string, unknown> | undefined, string>;

export type Language = 'da' | 'en' | 'sv';
export type EmploymentRole = 'employee' | 'leader' | 'company_admin';
export type StaffRole = 'operator' | 'support';
export type RequireTwoFactor = 'none' | 'admins_leaders' | 'everyone';

export interface CompaniesTable {
  id: string;
  name: string;
  status: ColumnType<'active' | 'terminating', 'active' | 'terminating' | undefined>;
  default_language: ColumnType<Language, Language | undefined>;
  min_password_length: ColumnType<number, number | undefined>;
  require_two_factor: ColumnType<RequireTwoFactor, RequireTwoFactor | undefined>;
  statistics_threshold: ColumnType<number, number | undefined>;
  created_at: Timestamp;
}

export interface UsersTable {
  id: string;
  email: string;
  name: string;
  password_hash: string | null;
  disabled_at: Date | null;
  created_at: Timestamp;
}

export interface DepartmentsTable {
  id: string;
  company_id: string;
  parent_id: string | null;
  name: string;
  owner_employment_id: string | null;
  created_at: Timestamp;
}

export interface TeamsTable {
  id: string;
  company_id: string;
  department_id: string;
  name: string;
  owner_employment_id: string | null;
  created_at: Timestamp;
}

export interface EmploymentsTable {
  id: string;
  company_id: string;
  user_id: string;
  title: ColumnType<string, string | undefined>;
  role: ColumnType<EmploymentRole, EmploymentRole | undefined>;
  language: ColumnType<Language, Language | undefined>;
  team_id: string | null;
  department_id: string | null;
  fired_at: Date | null;
  fired_by: string | null;
  created_at: Timestamp;
  reminders_off: ColumnType<string[], string[] | undefined, string[]>;
  reminders_digest: ColumnType<boolean, boolean | undefined, boolean>;
  /** Issue 6 (migrations/021): the name kept for the leader's archive, set when fired. */
  display_name: ColumnType<string | null, string | null | undefined, string | null>;
  /** Set when the retention runner purged the personal data; user_id is then null (typed string for live rows). */
  purged_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export const RESPONSIBILITIES = [
  'dialog_access_edp',
  'dialog_access_onboarding',
  'dialog_access_siab',
  'dialog_access_cv',
  'dialog_access_wpa',
  'manage_organisation_department',
  'configuration',
  'department_task_report_edp',
  'department_task_report_siab',
  'department_task_report_wpa',
] as const;
export type Responsibility = (typeof RESPONSIBILITIES)[number];
export const TEAM_RESPONSIBILITIES = RESPONSIBILITIES.filter((r) => r.startsWith('dialog_access_'));
export const DEPARTMENT_RESPONSIBILITIES = RESPONSIBILITIES.filter((r) => !r.startsWith('dialog_access_'));

export interface DelegationsTable {
  id: string;
  company_id: string;
  employment_id: string;
  responsibility: Responsibility;
  team_id: string | null;
  department_id: string | null;
  created_at: Timestamp;
}

export interface StaffAccountsTable {
  id: string;
  email: string;
  name: string;
  role: StaffRole;
  language: ColumnType<Language, Language | undefined>;
  password_hash: string | null;
  disabled_at: Date | null;
  created_at: Timestamp;
}

export interface SessionsTable {
  id: string;
  token_hash: string;
  user_id: string | null;
  staff_id: string | null;
  company_id: string | null;
  csrf_token: string;
  ip: string | null;
  user_agent: string | null;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  expires_at: Timestamp;
}

export interface AuditEventsTable {
  id: Generated<number>;
  company_id: string | null;
  actor_user_id: string | null;
  actor_staff_id: string | null;
  event_type: string;
  object_type: string | null;
  object_id: string | null;
  data: Json;
  ip: string | null;
  created_at: Timestamp;
  user_agent: ColumnType<string | null, string | null | undefined, never>;
  /** Set by the chain trigger (migrations/009_audit_chain.sql), never by the app. */
  chain_seq: ColumnType<string, never, never>;
  prev_hash: ColumnType<string, never, never>;
  row_hash: ColumnType<string, never, never>;
}

export interface LoginThrottleTable {
  subject: string;
  source: string;
  failures: ColumnType<number, number | undefined>;
  level: ColumnType<number, number | undefined>;
  blocked_until: Date | null;
  succeeded_at: Date | null;
  updated_at: Timestamp;
  notified_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

// Links sent by e-mail and request-rate counters (migrations/005_account_recovery.sql).
export type AccountTokenPurpose = 'invitation' | 'password_reset' | 'unlock' | 'email_change';
export interface AccountTokensTable {
  id: string;
  token_hash: string;
  purpose: AccountTokenPurpose;
  user_id: string | null;
  staff_id: string | null;
  company_id: string | null;
  new_email: string | null;
  created_at: Timestamp;
  expires_at: Date;
  used_at: Date | null;
}

export interface RateLimitsTable {
  bucket: string;
  window_start: Date;
  hits: ColumnType<number, number | undefined, number>;
}

// Second factors (migrations/003_two_factor.sql).
export interface TotpFactorsTable {
  id: string;
  user_id: string | null;
  staff_id: string | null;
  secret: string;
  confirmed_at: Date | null;
  last_used_step: ColumnType<number | null, number | null | undefined, number | null>;
  created_at: Timestamp;
}

export interface RecoveryCodesTable {
  id: string;
  user_id: string | null;
  staff_id: string | null;
  code_hash: string;
  used_at: Date | null;
  created_at: Timestamp;
}

export interface PendingLoginsTable {
  id: string;
  token_hash: string;
  user_id: string | null;
  staff_id: string | null;
  company_id: string | null;
  purpose: 'verify' | 'enrol';
  lookup_email: string;
  source: string;
  next: string | null;
  ip: string | null;
  user_agent: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
}

// Passkeys and security keys (migrations/007_passkeys.sql).
export interface WebauthnCredentialsTable {
  id: string;
  user_id: string | null;
  staff_id: string | null;
  credential_id: string;
  public_key: string;
  sign_count: ColumnType<number, number | undefined, number>;
  transports: ColumnType<string, string | undefined, string>;
  name: string;
  created_at: Timestamp;
  last_used_at: Date | null;
}

export type WebauthnChallengePurpose = 'register' | 'login' | 'reauth';
export interface WebauthnChallengesTable {
  id: string;
  user_id: string | null;
  staff_id: string | null;
  pending_login_id: string | null;
  purpose: WebauthnChallengePurpose;
  challenge: string;
  created_at: Timestamp;
  expires_at: Date;
}

// The mail outbox and periodic jobs (migrations/006_mail_and_jobs.sql).
export type MailStatus = 'pending' | 'sent' | 'failed';
export interface MailOutboxTable {
  id: string;
  company_id: ColumnType<string | null, string | null | undefined | import('kysely').RawBuilder<string | null>, string | null>;
  recipient: string;
  language: Language;
  template: string;
  model: Json;
  status: ColumnType<MailStatus, MailStatus | undefined, MailStatus>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
  sent_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: Timestamp;
}

export interface ScheduledJobsTable {
  name: string;
  next_run_at: Date;
  locked_until: ColumnType<Date | null, Date | null | undefined, Date | null>;
  last_started_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  last_finished_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
  runs: ColumnType<number, number | undefined, number>;
}

// Dialogues (migrations/008_dialogues.sql).
export type DialogueState = 'invited' | 'preparing' | 'meeting' | 'signing' | 'closed';
export type AnswerSide = 'employee' | 'leader' | 'shared';
export type AgreementStatus = 'open' | 'in_progress' | 'done' | 'dropped';
export type FormKind = 'mus' | 'grus' | 'onboarding' | 'sickness';
export interface FormsTable {
  id: string;
  company_id: string;
  builtin_key: string | null;
  kind: FormKind;
  name: string;
  language: Language;
  created_at: Timestamp;
}
export interface FormVersionsTable {
  id: string;
  company_id: string;
  form_id: string;
  version: number;
  definition: Json;
  created_at: Timestamp;
}
export interface DialogueRoundsTable {
  id: string;
  company_id: string;
  name: string;
  form_version_id: string;
  team_id: string | null;
  department_id: string | null;
  preparation_deadline: string;
  meeting_from: string;
  meeting_to: string;
  created_by: string;
  created_at: Timestamp;
}
export interface DialoguesTable {
  id: string;
  company_id: string;
  round_id: string | null;
  form_version_id: string;
  employee_employment_id: string;
  leader_employment_id: string;
  team_id: string | null;
  state: ColumnType<DialogueState, DialogueState | undefined>;
  employee_submitted_at: Date | null;
  leader_submitted_at: Date | null;
  meeting_at: Date | null;
  meeting_place: string | null;
  notes_text: ColumnType<string, string | undefined>;
  notes_version: ColumnType<number, number | undefined>;
  disagreement_text: string | null;
  created_at: Timestamp;
  /** GRUS (migrations/019): the anchor row's id, the same on every member row of one group. */
  group_id: ColumnType<string | null, string | null | undefined, string | null>;
}
/** A GRUS member's request for an individual MUS (migrations/019). */
export interface MusRequestsTable {
  id: string;
  company_id: string;
  grus_dialogue_id: string;
  employee_employment_id: string;
  reason_text: ColumnType<string, string | undefined, string>;
  created_at: Date;
  mus_dialogue_id: string | null;
  fulfilled_at: Date | null;
  fulfilled_by: string | null;
}
export interface DialogueTransitionsTable {
  id: string;
  company_id: string;
  dialogue_id: string;
  from_state: DialogueState | null;
  to_state: DialogueState;
  /** Null for a step made by the system (a sickness report from the integration API). */
  actor_employment_id: string | null;
  created_at: Timestamp;
}
export interface DialogueAnswersTable {
  company_id: string;
  dialogue_id: string;
  question_id: string;
  side: AnswerSide;
  value: string;
  version: number;
  updated_by: string;
  updated_at: Timestamp;
}
export interface AgreementsTable {
  id: string;
  company_id: string;
  dialogue_id: string;
  employee_employment_id: string;
  carried_from: string | null;
  title_text: string;
  description_text: ColumnType<string, string | undefined>;
  owner: 'employee' | 'leader';
  deadline: string | null;
  follow_up: string | null;
  status: ColumnType<AgreementStatus, AgreementStatus | undefined>;
  progress_text: ColumnType<string, string | undefined>;
  created_at: Timestamp;
  updated_at: Timestamp;
}
export interface SicknessReportsTable {
  id: string;
  company_id: string;
  employee_employment_id: string;
  from_date: string;
  to_date: string | null;
  /** The reporting employment, or null when the integration API reported it (then the token). */
  reported_by: string | null;
  reported_by_api_token: ColumnType<string | null, string | null | undefined, string | null>;
  dialogue_id: string | null;
  created_at: Timestamp;
  updated_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}
export interface DialogueSignaturesTable {
  company_id: string;
  dialogue_id: string;
  side: 'employee' | 'leader';
  employment_id: string;
  signed_at: Date;
}

export type ApiResource = 'user' | 'employee' | 'department' | 'team' | 'delegation';
export interface ApiSettingsTable {
  company_id: string;
  legacy_headers: ColumnType<boolean, boolean | undefined>;
  allowed_cidrs: ColumnType<string[], string[] | undefined>;
  updated_at: Timestamp;
}
export interface ApiTokensTable {
  id: string;
  company_id: string;
  name: string;
  token_hash: string;
  secret_box: string;
  created_by: string | null;
  created_at: Timestamp;
  last_used_at: Date | null;
  revoked_at: Date | null;
}
export interface ApiSeenJwtsTable {
  company_id: string;
  signature_hash: string;
  expires_at: Date;
}
export interface ApiExternalIdsTable {
  company_id: string;
  resource: ApiResource;
  external_id: string;
  internal_id: string;
  created_at: Timestamp;
}
export interface ApiUsersTable {
  company_id: string;
  user_id: string;
  username: string | null;
  gender: 'male' | 'female' | 'other' | null;
  birthday: ColumnType<string | null, string | null, string | null>;
}

export type FileKind = 'pdf' | 'docx' | 'xlsx' | 'odt' | 'ods' | 'csv' | 'txt' | 'png' | 'jpeg';
export type FileState = 'uploading' | 'waiting' | 'available' | 'infected';
export interface FilesTable {
  id: string;
  company_id: string;
  purpose: 'inbox' | 'dialogue';
  /** Set for dialogue attachments (migration 015); agreement_id also for an agreement's. */
  dialogue_id: ColumnType<string | null, string | null | undefined, string | null>;
  agreement_id: ColumnType<string | null, string | null | undefined, string | null>;
  uploaded_by: string | null;
  name: string;
  kind: FileKind;
  content_type: string;
  size_bytes: ColumnType<number, number | undefined, number>;
  sha256: string | null;
  state: ColumnType<FileState, FileState | undefined, FileState>;
  scan_attempts: ColumnType<number, number | undefined, number>;
  scan_error: string | null;
  next_scan_at: Date | null;
  scanned_at: Date | null;
  signature: string | null;
  created_at: Timestamp;
}
export interface FileChunksTable {
  company_id: string;
  file_id: string;
  seq: number;
  cipher: ColumnType<string, string | undefined, string>;
  data: Uint8Array;
}

// Support access by the customer's consent (migrations/012_support_consent.sql).
export interface SupportConsentsTable {
  id: string;
  company_id: string;
  granted_by: string;
  reason: string;
  allow_edit: boolean;
  granted_at: Date;
  expires_at: Date;
  withdrawn_at: Date | null;
  withdrawn_by: string | null;
  first_used_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

// "Viewed by" (migrations/013_support_role_and_views.sql).
export interface DocumentViewsTable {
  id: Generated<number>;
  company_id: string;
  object_type: 'dialogue' | 'file' | 'export';
  object_id: string;
  viewer_user_id: string | null;
  viewer_staff_id: string | null;
  viewer_role: 'employee' | 'leader' | 'delegate' | 'admin' | 'support';
  viewed_at: Timestamp;
}

export type EmployeeImportState = 'pending' | 'applied' | 'refused' | 'discarded';
/** Employee imports (issue 7, migration 016): which uploaded file was sent for an import, and its fate. */
export interface EmployeeImportsTable {
  id: string;
  company_id: string;
  file_id: string | null;
  uploaded_by: string | null;
  state: ColumnType<EmployeeImportState, EmployeeImportState | undefined, EmployeeImportState>;
  created_count: ColumnType<number, number | undefined, number>;
  created_at: ColumnType<Date, Date | undefined, never>;
  finished_at: Date | null;
}

// Reminders (migrations/017_reminders.sql).
export interface NotificationsTable {
  id: string;
  company_id: string;
  employment_id: string;
  reminder: string;
  deadline: Date | null;
  path: string;
  created_at: Timestamp;
  read_at: Date | null;
  digested_at: Date | null;
}
export interface RemindersSentTable {
  company_id: string;
  subject_id: string;
  reminder: string;
  employment_id: string;
  on_date: string;
  created_at: Timestamp;
}

export interface ModuleSwitchesTable {
  module: string;
  off: boolean;
  reason: string | null;
  changed_at: Timestamp;
}

/** Issue 6 (M16): a company's termination (migrations/022). */
export interface CompanyTerminationsTable {
  id: string;
  company_id: string;
  requested_at: Date;
  purge_after: Date;
  requested_by_employment: string | null;
  requested_by_operator: string | null;
  reason: string | null;
  cancelled_at: Date | null;
  cancelled_by: string | null;
  warned_at: Date | null;
}

export interface DB {
  company_terminations: CompanyTerminationsTable;
  module_switches: ModuleSwitchesTable;
  notifications: NotificationsTable;
  reminders_sent: RemindersSentTable;
  document_views: DocumentViewsTable;
  support_consents: SupportConsentsTable;
  mail_outbox: MailOutboxTable;
  scheduled_jobs: ScheduledJobsTable;
  webauthn_credentials: WebauthnCredentialsTable;
  webauthn_challenges: WebauthnChallengesTable;
  account_tokens: AccountTokensTable;
  rate_limits: RateLimitsTable;
  totp_factors: TotpFactorsTable;
  recovery_codes: RecoveryCodesTable;
  pending_logins: PendingLoginsTable;
  login_throttle: LoginThrottleTable;
  companies: CompaniesTable;
  users: UsersTable;
  departments: DepartmentsTable;
  teams: TeamsTable;
  employments: EmploymentsTable;
  delegations: DelegationsTable;
  staff_accounts: StaffAccountsTable;
  sessions: SessionsTable;
  audit_events: AuditEventsTable;
  forms: FormsTable;
  form_versions: FormVersionsTable;
  dialogue_rounds: DialogueRoundsTable;
  dialogues: DialoguesTable;
  dialogue_transitions: DialogueTransitionsTable;
  dialogue_answers: DialogueAnswersTable;
  agreements: AgreementsTable;
  dialogue_signatures: DialogueSignaturesTable;
  mus_requests: MusRequestsTable;
  sickness_reports: SicknessReportsTable;
  files: FilesTable;
  employee_imports: EmployeeImportsTable;
  file_chunks: FileChunksTable;
  api_settings: ApiSettingsTable;
  api_tokens: ApiTokensTable;
  api_seen_jwts: ApiSeenJwtsTable;
  api_external_ids: ApiExternalIdsTable;
  api_users: ApiUsersTable;
}

export type Company = Selectable<CompaniesTable>;
export type User = Selectable<UsersTable>;
export type Department = Selectable<DepartmentsTable>;
export type Team = Selectable<TeamsTable>;
export type Employment = Selectable<EmploymentsTable>;
export type Delegation = Selectable<DelegationsTable>;
export type StaffAccount = Selectable<StaffAccountsTable>;
export type Session = Selectable<SessionsTable>;
export type NewAuditEvent = Insertable<AuditEventsTable>;

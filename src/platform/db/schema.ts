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
}

export interface LoginThrottleTable {
  subject: string;
  source: string;
  failures: ColumnType<number, number | undefined>;
  level: ColumnType<number, number | undefined>;
  blocked_until: Date | null;
  succeeded_at: Date | null;
  updated_at: Timestamp;
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

export interface DB {
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

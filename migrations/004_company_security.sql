-- Per-company security settings (issue 3): who must use two-factor. The minimum password length
-- (companies.min_password_length, 8..128) already exists. Rows are covered by companies_tenant.
alter table companies add column require_two_factor text not null default 'none'
  check (require_two_factor in ('none', 'admins_leaders', 'everyone'));

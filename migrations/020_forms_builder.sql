-- Forms builder (issue 4): a company's own forms can be renamed and switch language; what a
-- form asks still changes only by inserting a new immutable version (form_versions), so running
-- dialogues keep the questions they started with. The kind and the built-in key stay fixed: the
-- kind decides which delegation reads a dialogue (dialogues.policy.ts ACCESS_FOR_KIND).
grant update (name, language) on forms to samtale_app;

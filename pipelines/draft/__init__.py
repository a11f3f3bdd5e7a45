"""Drafting a feed's declaration from a department's sample files (`ioc feeds draft`): where the header is, what each
column holds, the key, the file names' pattern, or a form's layout and its indicators. What cannot be decided is
written with a `# TODO` comment, never guessed silently."""

" nsr recipes: braces, brackets and parentheses indent as in C
if exists('b:did_indent')
  finish
endif
let b:did_indent = 1
setlocal cindent
setlocal cinoptions=j1,J1,(s,m1
let b:undo_indent = 'setlocal cindent< cinoptions<'

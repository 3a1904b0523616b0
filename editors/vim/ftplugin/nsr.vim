" nsr recipes: comments and indentation like other C-family languages
if exists('b:did_ftplugin')
  finish
endif
let b:did_ftplugin = 1
setlocal commentstring=//\ %s
setlocal comments=s1:/*,mb:*,ex:*/,:///,://!,://
setlocal shiftwidth=4 softtabstop=4 expandtab
setlocal suffixesadd=.nsr
let b:undo_ftplugin = 'setlocal commentstring< comments< shiftwidth< softtabstop< expandtab< suffixesadd<'

" nsr recipes
autocmd BufRead,BufNewFile *.nsr setfiletype nsr

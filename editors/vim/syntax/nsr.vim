" Vim syntax file for nsr recipes (.nsr)
" generated from the nsr engine by `cargo run --example regenerate`: do not edit
if exists('b:current_syntax')
  finish
endif

syn keyword nsrConditional if else for in while loop do until
syn keyword nsrConditional break continue return throw try catch switch
syn keyword nsrKeyword let const fn private import export as
syn keyword nsrBoolean true false
syn keyword nsrArgs args this
syn match nsrPrimitive "\<\(addr\|addrs\|attach\|bridge\|chroot\|cidr_host\|detach\|down\|exec\|forward\|host\|hostname\|ip6_forward\|ip_forward\|ip_of\|limits\|link\|links\|make_dir\|masquerade\|mount\|mountinfo\|move_to\|mtu\|namespaces\|netns\|netns_open\|overlay_root\|pasta\|pivot_root\|port_forward\|rootfs_cache\|rootfs_from_image\|rootfs_from_tar\|route\|routes\|run\|unshare\|up\|usage\|veth\|vxlan\)\ze\s*("
syn match nsrModule "\<\(net\|fs\|box\)\ze::"
syn match nsrModuleFunction "::\zs\h\w*"
syn match nsrFunction "\<fn\s\+\zs\h\w*"
syn match nsrNumber "\<\d[0-9_]*\(\.\d\+\)\=\>"
syn match nsrNumber "\<0x\x\+\>"
syn match nsrEscape "\\." contained
syn region nsrString start=+"+ skip=+\\.+ end=+"+ contains=nsrEscape
syn region nsrTemplate start=+`+ skip=+\\.+ end=+`+ contains=nsrEscape
syn match nsrComment "//.*$" contains=@Spell
syn match nsrDocComment "//[/!].*$" contains=@Spell
syn region nsrComment start="/\*" end="\*/" contains=@Spell

hi def link nsrConditional Conditional
hi def link nsrKeyword Keyword
hi def link nsrBoolean Boolean
hi def link nsrArgs Identifier
hi def link nsrPrimitive Function
hi def link nsrModule Include
hi def link nsrModuleFunction Function
hi def link nsrFunction Function
hi def link nsrNumber Number
hi def link nsrEscape SpecialChar
hi def link nsrString String
hi def link nsrTemplate String
hi def link nsrComment Comment
hi def link nsrDocComment SpecialComment

let b:current_syntax = 'nsr'

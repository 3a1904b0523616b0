// Where the extension finds nsr: the `nsr.path` setting, as a path (it contains a
// slash) or a name looked up on PATH. null when there is none: the extension then keeps
// the grammar and snippets and starts no language server.
const fs = require('fs');
const path = require('path');

function executable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch (_) {
    return false;
  }
}

function findNsr(setting, searchPath) {
  const name = setting && setting.trim() ? setting.trim() : 'nsr';
  if (name.includes('/')) {
    return executable(name) ? name : null;
  }
  for (const dir of (searchPath || '').split(path.delimiter)) {
    if (dir && executable(path.join(dir, name))) {
      return path.join(dir, name);
    }
  }
  return null;
}

module.exports = { findNsr };

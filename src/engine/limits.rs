//! Bounds on what a recipe may consume, so an untrusted or runaway recipe ends with a
//! clear error (and a rollback) instead of hanging or exhausting memory.

use rhai::Engine;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub operations: u64,
    pub call_depth: usize,
    pub expr_depth: usize,
    pub string_size: usize,
    pub array_size: usize,
    pub map_size: usize,
    pub modules: usize,
    /// Peak memory of the nsr process, in MiB, checked every 16384 operations.
    pub memory_mib: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // Enough for any real recipe, and a runaway loop stops within seconds. Rhai
            // checks an array's size in time proportional to it on every write, so a
            // larger array limit makes a push loop quadratic (1,000,000 took hours).
            operations: 1_000_000,
            call_depth: 64,
            expr_depth: 64,
            string_size: 16 << 20,
            array_size: 50_000,
            map_size: 100_000,
            modules: 32,
            memory_mib: 1024,
        }
    }
}

pub const LIMIT_NAMES: [&str; 8] = [
    "operations",
    "call-depth",
    "expr-depth",
    "string-size",
    "array-size",
    "map-size",
    "modules",
    "memory",
];

impl Limits {
    /// Applies one `NAME=VALUE` override from the command line.
    pub fn set(&mut self, assignment: &str) -> Result<(), String> {
        let (name, value) = assignment.split_once('=').ok_or_else(|| {
            format!(
                "'{assignment}' is not NAME=VALUE (names: {})",
                LIMIT_NAMES.join(", ")
            )
        })?;
        let n: u64 = value
            .parse()
            .map_err(|_| format!("limit {name}: '{value}' is not a whole number"))?;
        if n == 0 {
            return Err(format!("limit {name} must be at least 1"));
        }
        let n_usize = usize::try_from(n).map_err(|_| format!("limit {name} is too large"))?;
        match name {
            "operations" => self.operations = n,
            "call-depth" => self.call_depth = n_usize,
            "expr-depth" => self.expr_depth = n_usize,
            "string-size" => self.string_size = n_usize,
            "array-size" => self.array_size = n_usize,
            "map-size" => self.map_size = n_usize,
            "modules" => self.modules = n_usize,
            "memory" => self.memory_mib = n,
            _ => {
                return Err(format!(
                    "unknown limit '{name}' (names: {})",
                    LIMIT_NAMES.join(", ")
                ))
            }
        }
        Ok(())
    }

    pub fn apply(&self, engine: &mut Engine) {
        engine.set_max_operations(self.operations);
        engine.set_max_call_levels(self.call_depth);
        engine.set_max_expr_depths(self.expr_depth, self.expr_depth / 2);
        engine.set_max_string_size(self.string_size);
        engine.set_max_array_size(self.array_size);
        engine.set_max_map_size(self.map_size);
        engine.set_max_modules(self.modules);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_parse_and_refuse_nonsense() {
        let mut l = Limits::default();
        l.set("operations=5").unwrap();
        assert_eq!(l.operations, 5);
        assert!(l.set("operations").unwrap_err().contains("NAME=VALUE"));
        assert!(l.set("speed=3").unwrap_err().contains("unknown limit"));
        assert!(l.set("call-depth=0").is_err());
        assert!(l.set("map-size=x").is_err());
    }
}

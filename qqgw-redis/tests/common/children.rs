//! Child processes of a test binary: the binary runs itself again with one test selected
//! and its settings in the environment. Killed (SIGKILL) on drop; a child also exits when
//! its stdin closes, so none outlives a parent that died.

use std::process::{Child, Command, Stdio};

/// The variable that makes a test binary's `child` test act.
pub const ROLE: &str = "QQGW_REDIS_CHILD";

pub struct Children(Vec<(String, Child)>);

impl Children {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Starts the test `test` of this binary as a child named `name`, with `env`.
    pub fn spawn(&mut self, name: &str, test: &str, env: &[(&str, String)]) {
        let exe = std::env::current_exe().expect("the test binary");
        let mut command = Command::new(exe);
        command.args(["--exact", test, "--nocapture", "--test-threads=1"]).env(ROLE, name);
        for (key, value) in env {
            command.env(key, value);
        }
        let quiet = std::env::var_os("QQGW_REDIS_CHILD_LOGS").is_none();
        command.stdin(Stdio::piped()).stdout(if quiet { Stdio::null() } else { Stdio::inherit() });
        command.stderr(if quiet { Stdio::null() } else { Stdio::inherit() });
        let child = command.spawn().expect("spawn a child process");
        self.0.push((name.to_owned(), child));
    }

    /// The process id of the child `name`.
    pub fn pid(&self, name: &str) -> u32 {
        self.0.iter().find(|(n, _)| n == name).map(|(_, c)| c.id()).expect("a child of that name")
    }

    /// Kills the child `name` with SIGKILL, as a crash.
    pub fn kill(&mut self, name: &str) {
        if let Some(index) = self.0.iter().position(|(n, _)| n == name) {
            let (_, mut child) = self.0.remove(index);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// In a child: exits the process once stdin closes (the parent is gone).
pub fn exit_with_parent() {
    std::thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        std::process::exit(0);
    });
}

/// The environment variable `name` of a child.
pub fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

use super::*;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn the_text_is_split_like_a_shell_with_nothing_expanded() {
    assert_eq!(
        split("--epochs 3 --lr 0.01").unwrap(),
        s(&["--epochs", "3", "--lr", "0.01"])
    );
    assert_eq!(
        split(r#"--name "my run" --tag 'a b' --home $HOME --cmd `ls`; echo x"#).unwrap(),
        s(
            &[
                "--name", "my run", "--tag", "a b", "--home", "$HOME", "--cmd", "`ls`;", "echo",
                "x"
            ]
        )
    );
    assert_eq!(
        split(r"it\'s 'a''b' \$x").unwrap(),
        s(&["it's", "ab", "$x"])
    );
    assert_eq!(split("\"two\nlines\"").unwrap(), s(&["two\nlines"]));
    assert_eq!(split("  ").unwrap(), Vec::<String>::new());
}

#[test]
fn an_unclosed_quote_is_refused_with_what_to_do() {
    for text in ["--name \"my run", "--name 'x", "--x \"a'b"] {
        let err = split(text).unwrap_err();
        assert_eq!(err.code(), "arguments_unclosed_quote", "{text}");
        assert!(err.hint().unwrap().contains("Close the quote"));
    }
}

#[test]
fn joined_arguments_split_back_exactly() {
    let nasty = s(&[
        "--msg",
        "a b",
        "it's",
        "$HOME",
        "`id`",
        "; rm -rf /",
        "two\nlines",
        "",
        "#x",
        "\\",
    ]);
    assert_eq!(split(&join(&nasty)).unwrap(), nasty);
}

#[test]
fn the_arguments_must_match_their_text() {
    let args = s(&["--epochs", "3"]);
    assert!(check_arguments(&args, "--epochs 3").is_ok());
    assert!(
        check_arguments(&args, "").is_ok(),
        "no text: the CLI's list"
    );
    assert_eq!(
        check_arguments(&args, "--epochs 4").unwrap_err().code(),
        "arguments_text_mismatch"
    );
    assert_eq!(
        check_arguments(&args, "--epochs '3").unwrap_err().code(),
        "arguments_unclosed_quote"
    );
    assert_eq!(
        check_arguments(&s(&["a", "b\0c"]), "").unwrap_err(),
        ArgsError::NulInArgument(2)
    );
    let long = vec!["x".repeat(MAX_ARGS_BYTES)];
    assert_eq!(
        check_arguments(&long, "").unwrap_err().code(),
        "arguments_too_long"
    );
}

#[test]
fn variable_names_follow_the_environment_rule() {
    let ec2 = Engine::Ec2;
    for ok in ["EPOCHS", "_x", "wandb_project", "A1_B2"] {
        assert!(check_env(&[EnvVar::new(ok, "1")], &ec2).is_ok(), "{ok}");
    }
    for bad in ["", "1X", "MY-VAR", "A B", "É", "A=B"] {
        assert_eq!(
            check_env(&[EnvVar::new(bad, "1")], &ec2)
                .unwrap_err()
                .code(),
            "env_bad_name",
            "{bad:?}"
        );
    }
}

#[test]
fn names_easytdv_sets_are_refused_saying_why() {
    let ec2 = Engine::Ec2;
    for name in [
        "OUTPUT_DIR",
        "EASYTDV_HOME",
        "AWS_ACCESS_KEY_ID",
        "aws_region",
        "PATH",
        "HOME",
        "SM_HPS",
    ] {
        let err = check_env(&[EnvVar::new(name, "x")], &ec2).unwrap_err();
        assert_eq!(err.code(), "env_reserved", "{name}");
        assert!(err.to_string().contains(name), "{err}");
    }
    let err = check_env(&[EnvVar::new("OUTPUT_DIR", "/tmp")], &ec2).unwrap_err();
    assert!(err.to_string().contains("outputs"), "{err}");
    // torchrun's names: free on one EC2 machine, refused on SageMaker.
    let sm = Engine::SageMaker {
        instance_count: 2,
        spot: false,
    };
    assert!(check_env(&[EnvVar::new("RANK", "0")], &ec2).is_ok());
    assert_eq!(
        check_env(&[EnvVar::new("RANK", "0")], &sm)
            .unwrap_err()
            .code(),
        "env_reserved"
    );
}

#[test]
fn duplicates_nul_and_sizes_are_refused() {
    let ec2 = Engine::Ec2;
    let sm = Engine::SageMaker {
        instance_count: 1,
        spot: false,
    };
    let twice = [EnvVar::new("A", "1"), EnvVar::new("A", "2")];
    assert_eq!(
        check_env(&twice, &ec2).unwrap_err(),
        ArgsError::Duplicate("A".into())
    );
    assert_eq!(
        check_env(&[EnvVar::new("A", "x\0y")], &ec2)
            .unwrap_err()
            .code(),
        "env_bad_value"
    );
    // SageMaker's Environment takes values of at most 512 characters.
    let v513 = EnvVar::new("A", "é".repeat(513));
    assert!(check_env(std::slice::from_ref(&v513), &ec2).is_ok());
    assert_eq!(check_env(&[v513], &sm).unwrap_err().code(), "env_bad_value");
    assert!(check_env(&[EnvVar::new("A", "é".repeat(512))], &sm).is_ok());
    let many: Vec<EnvVar> = (0..=MAX_VARS)
        .map(|i| EnvVar::new(format!("V{i}"), ""))
        .collect();
    assert_eq!(check_env(&many, &ec2).unwrap_err().code(), "env_too_many");
    assert!(check_env(&many[..MAX_VARS], &ec2).is_ok());
}

#[test]
fn key_value_text_splits_at_the_first_equals() {
    assert_eq!(EnvVar::parse("A=b=c").unwrap(), EnvVar::new("A", "b=c"));
    assert_eq!(EnvVar::parse("A=").unwrap(), EnvVar::new("A", ""));
    assert_eq!(EnvVar::parse("A").unwrap_err().code(), "env_not_key_value");
}

#[test]
fn the_file_holds_nul_terminated_records_and_a_fresh_nonce() {
    let args = s(&["--m", "a b\nc", ""]);
    let env = [EnvVar::new("K", "v=1"), EnvVar::new("E", "")];
    let bytes = args_file(&args, &env);
    assert_eq!(*bytes.last().unwrap(), 0);
    let records: Vec<&str> = std::str::from_utf8(&bytes[..bytes.len() - 1])
        .unwrap()
        .split('\0')
        .collect();
    assert_eq!(records[0], FORMAT);
    assert_eq!(records[1].len(), 32);
    assert_eq!(records[2..], ["3", "--m", "a b\nc", "", "2", "K=v=1", "E="]);
    // Same arguments, another file hash: the hash in the command tells nothing.
    assert_ne!(args_file(&args, &env), bytes);
    let empty = args_file(&[], &[]);
    assert!(empty.ends_with(b"\x000\x000\x00"));
}

#[test]
fn the_wizard_fields_give_what_train_py_gets() {
    let got = check_inputs(
        "--epochs 3 --name 'my run'",
        "# comment\n  WANDB_PROJECT=demo run\r\n\nEMPTY=\nURL=a=b\n",
        &Engine::Ec2,
    )
    .unwrap();
    assert_eq!(got.args, s(&["--epochs", "3", "--name", "my run"]));
    assert_eq!(
        got.env,
        vec![
            EnvVar::new("WANDB_PROJECT", "demo run"),
            EnvVar::new("EMPTY", ""),
            EnvVar::new("URL", "a=b")
        ]
    );
    let sm = Engine::SageMaker {
        instance_count: 1,
        spot: false,
    };
    assert_eq!(
        check_inputs("'open", "", &sm).unwrap_err().code(),
        "arguments_unclosed_quote"
    );
    assert_eq!(
        check_inputs("", "JUST_A_NAME", &sm).unwrap_err().code(),
        "env_not_key_value"
    );
    assert_eq!(
        check_inputs("", "OUTPUT_DIR=x", &sm).unwrap_err().code(),
        "env_reserved"
    );
    assert_eq!(
        check_inputs("", "", &sm).unwrap(),
        ScriptInputs {
            args: vec![],
            env: vec![]
        }
    );
}

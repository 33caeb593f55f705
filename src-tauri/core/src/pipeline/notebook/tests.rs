use super::*;

fn notebook(cells: &str) -> Vec<u8> {
    format!(r#"{{"nbformat": 4, "nbformat_minor": 5, "metadata": {{}}, "cells": [{cells}]}}"#)
        .into_bytes()
}

const PARAMS_CELL: &str = r#"{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "outputs": [], "execution_count": null,
  "source": ["epochs = 2\n", "lr: float = 0.1  # learning rate\n", "if epochs == 3:\n", "    hidden = 1\n", "name = 'x'"]}"#;
const CODE_CELL: &str = r#"{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": null, "source": "print(epochs)"}"#;

fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

#[test]
fn a_valid_notebook_and_its_parameters() {
    let nb = check(&notebook(&format!("{PARAMS_CELL}, {CODE_CELL}")), "t.ipynb").unwrap();
    assert_eq!(
        nb.parameters,
        Some(vec!["epochs".into(), "lr".into(), "name".into()]),
        "top-level assignments only; `==` and indented lines are not parameters"
    );
    let plain = check(&notebook(CODE_CELL), "t.ipynb").unwrap();
    assert_eq!(plain.parameters, None);
    // A markdown cell tagged "parameters" is not papermill's parameters cell.
    let md =
        r#"{"cell_type": "markdown", "metadata": {"tags": ["parameters"]}, "source": "a = 1"}"#;
    assert_eq!(check(&notebook(md), "t.ipynb").unwrap().parameters, None);
}

#[test]
fn what_is_wrong_with_a_notebook_is_named() {
    let err = check(b"{\"nbformat\": 4, \"cells\": [", "broken.ipynb").unwrap_err();
    assert_eq!(err.code(), "notebook_not_json");
    let text = err.to_string();
    assert!(
        text.contains("broken.ipynb is not valid JSON") && text.contains("line 1"),
        "{text}"
    );
    assert!(err.hint().unwrap().contains("save it again"));

    let cases: [(&[u8], &str, &str); 8] = [
        (b"[1, 2]", "notebook_not_notebook", "not an object"),
        (
            br#"{"cells": []}"#,
            "notebook_not_notebook",
            "no \"nbformat\"",
        ),
        (
            br#"{"nbformat": "4", "cells": []}"#,
            "notebook_not_notebook",
            "\"nbformat\" is not a number",
        ),
        (
            br#"{"nbformat": 3, "worksheets": []}"#,
            "notebook_old_format",
            "old notebook format 3",
        ),
        (
            br#"{"nbformat": 4}"#,
            "notebook_not_notebook",
            "no \"cells\" list",
        ),
        (
            br#"{"nbformat": 4, "cells": {}}"#,
            "notebook_not_notebook",
            "\"cells\" is not a list",
        ),
        (
            br#"{"nbformat": 4, "cells": [{"cell_type": "code", "source": "a"}, {"source": "b"}]}"#,
            "notebook_not_notebook",
            "cell 2 has no \"cell_type\"",
        ),
        (
            br#"{"nbformat": 4, "cells": [{"cell_type": "code", "source": 3}]}"#,
            "notebook_not_notebook",
            "cell 1 has no text \"source\"",
        ),
    ];
    for (bytes, code, words) in cases {
        let err = check(bytes, "n.ipynb").unwrap_err();
        assert_eq!(err.code(), code, "{err}");
        assert!(err.to_string().contains(words), "{err}");
    }
}

#[test]
fn parameters_are_checked_against_the_parameters_cell() {
    let nb = check(&notebook(PARAMS_CELL), "t.ipynb").unwrap();
    assert_eq!(
        check_parameters(
            &args("-p epochs 3 --parameters lr 0.01 -r name 007"),
            &nb,
            "t.ipynb"
        )
        .unwrap(),
        args("-p epochs 3 -p lr 0.01 -r name 007")
    );
    assert_eq!(
        check_parameters(&[], &nb, "t.ipynb").unwrap(),
        Vec::<String>::new()
    );
    let err = check_parameters(&args("-p epoch 3"), &nb, "t.ipynb").unwrap_err();
    assert_eq!(err.code(), "notebook_unknown_parameter");
    assert!(
        err.to_string()
            .contains("no parameter \"epoch\" (its parameters cell sets epochs, lr, name)"),
        "{err}"
    );
    for (bad, words) in [
        ("-p epochs", "-p needs a name and a value"),
        ("--cwd /", "\"--cwd\" is not accepted"),
        ("-k python3", "\"-k\" is not accepted"),
        ("epochs 3", "write -p epochs VALUE"),
        ("-p 3x 1", "not a Python variable name"),
    ] {
        let err = check_parameters(&args(bad), &nb, "t.ipynb").unwrap_err();
        assert_eq!(err.code(), "notebook_bad_parameters", "{bad}");
        assert!(err.to_string().contains(words), "{bad}: {err}");
    }
    // Without a parameters cell a value would be silently overwritten: refused.
    let plain = check(&notebook(CODE_CELL), "t.ipynb").unwrap();
    let err = check_parameters(&args("-p epochs 3"), &plain, "t.ipynb").unwrap_err();
    assert_eq!(err.code(), "notebook_no_parameters_cell");
    assert!(err.hint().unwrap().contains("tag \"parameters\""));
}

#[test]
fn names_on_the_machine() {
    assert!(is_notebook(Path::new("/a/Train.IPYNB")));
    assert!(!is_notebook(Path::new("/a/train.py")));
    assert!(!is_notebook(Path::new("/a/.ipynb")));
    assert_eq!(
        entry_name(Path::new("/w/01 - Train (v2).ipynb")).unwrap(),
        "01 - Train (v2).ipynb"
    );
    for bad in ["/w/.hidden.ipynb", "/w/a\nb.ipynb"] {
        assert_eq!(
            entry_name(Path::new(bad)).unwrap_err().code(),
            "notebook_bad_name"
        );
    }
    assert_eq!(executed_name("train.ipynb"), "train.executed.ipynb");
    assert_eq!(executed_name("Étude.IPYNB"), "Étude.executed.ipynb");
    assert_eq!(executed_name("é.ipynb"), "é.executed.ipynb");
}

#[test]
fn the_executor_joins_the_requirements_unless_pinned_by_the_user() {
    let added = with_executor(b"numpy==2.1.0", &["numpy==2.1.0".into()]);
    assert_eq!(
        String::from_utf8(added).unwrap(),
        format!("numpy==2.1.0\n# easyTDV: to execute the notebook\n{PAPERMILL}\n{IPYKERNEL}\n")
    );
    let own = with_executor(
        b"Papermill==2.6.0\nipykernel\n",
        &["Papermill==2.6.0".into(), "ipykernel".into()],
    );
    assert_eq!(own, b"Papermill==2.6.0\nipykernel\n");
    let one = with_executor(b"IPyKernel>=6\n", &["IPyKernel>=6".into()]);
    assert!(String::from_utf8(one)
        .unwrap()
        .ends_with(&format!("notebook\n{PAPERMILL}\n")));
    assert_eq!(
        String::from_utf8(with_executor(b"", &[])).unwrap(),
        format!("# easyTDV: to execute the notebook\n{PAPERMILL}\n{IPYKERNEL}\n")
    );
    assert_eq!(normalised_name("Jupyter_Client.x>=1"), "jupyter-client-x");
}

#[test]
fn the_executed_notebook_is_found_in_a_download() {
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new("/home/m/Train Model.ipynb");
    assert_eq!(executed_in(dir.path(), script), None, "not downloaded");
    let file = dir.path().join("Train Model.executed.ipynb");
    std::fs::write(&file, "{}").unwrap();
    assert_eq!(executed_in(dir.path(), script), Some(file));
    assert_eq!(executed_in(dir.path(), Path::new("/home/m/train.py")), None);
}

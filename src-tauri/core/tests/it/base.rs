//! The easyTDV base (`templates/base.yaml`; issue 22, item 2) on the sandbox:
//! created once with the app's key, reused without a call that changes
//! anything, updated when the account's needs changed, left out of the
//! leftovers check, removed cleanly.

use crate::common::*;
use easytdv_core::aws::AwsContext;
use easytdv_core::pipeline::base::{self, Standing, Wanted};
use easytdv_core::pipeline::machine;
use easytdv_core::pipeline::storage::{account_id, RunBucket};

/// A region no other test uses: the base is one per region.
const BASE_REGION: &str = "eu-west-2";

async fn ctx_in(region: &str) -> AwsContext {
    AwsContext::new(
        &easytdv_core::aws::CredentialSource::Sandbox {
            endpoint: endpoint(),
        },
        region,
    )
    .await
    .unwrap()
}

/// How many times the sandbox was asked `operation` on the base's stack in `region`.
fn base_calls(operation: &str, region: &str) -> usize {
    let sandbox = hook_json("data-dir", serde_json::json!({}));
    let calls = std::fs::read_to_string(sandbox["calls"].as_str().unwrap()).unwrap();
    calls
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|c| {
            c["operation"] == operation
                && c["region"] == region
                && c["names"]["StackName"] == base::STACK_NAME
        })
        .count()
}

async fn role_boundary(admin: &AwsContext, name: &str) -> Option<String> {
    let role = admin.iam().get_role().role_name(name).send().await.ok()?;
    role.role()?
        .permissions_boundary()?
        .permissions_boundary_arn()
        .map(str::to_string)
}

/// A region of the sandbox with no base in it (any earlier one removed), a
/// bucket of the app's there, and what the base needs in that region.
struct Fresh {
    ctx: AwsContext,
    admin: AwsContext,
    name: String,
    owner: String,
    vpc: String,
    wanted: Wanted,
}

impl Fresh {
    async fn region(region: &str, tag: &str) -> Self {
        let ctx = ctx_in(region).await;
        let admin = AwsContext::from_sdk_config(admin_config(region).await, Some(endpoint()));
        base::remove(&admin, &|_: &str| {}).await.unwrap();
        let name = bucket(tag);
        create_bucket(&ctx, &name).await;
        let owner = account_id(&ctx).await.unwrap();
        let vpc = machine::default_vpc(&ctx).await.unwrap();
        let wanted = Wanted {
            vpc_id: vpc.clone(),
            ebs_kms_key_arn: None,
        };
        Self {
            ctx,
            admin,
            name,
            owner,
            vpc,
            wanted,
        }
    }

    fn bucket(&self) -> RunBucket<'_> {
        RunBucket::new(&self.ctx, &self.name, self.owner.clone())
    }
}

#[tokio::test]
async fn the_base_is_created_once_reused_updated_and_removed() {
    let f = Fresh::region(BASE_REGION, "base").await;
    let (ctx, admin, name, owner, vpc, wanted) =
        (&f.ctx, &f.admin, &f.name, &f.owner, &f.vpc, &f.wanted);
    let quiet = |_: &str| {};
    let run_bucket = f.bucket();
    assert_eq!(
        base::standing(ctx, wanted).await.unwrap(),
        Standing::Missing
    );

    // Created once, with the app's own key (the user policy allows it).
    let said = std::sync::Mutex::new(Vec::<String>::new());
    let notice = |m: &str| said.lock().unwrap().push(m.to_string());
    let creates = base_calls("CreateStack", BASE_REGION);
    let first = base::ensure(ctx, &run_bucket, wanted, &notice)
        .await
        .unwrap();
    assert_eq!(base_calls("CreateStack", BASE_REGION), creates + 1);
    assert!(said
        .lock()
        .unwrap()
        .iter()
        .any(|m| m.contains("Creating easyTDV's shared resources in this region (once)")));
    assert_eq!(first.version, base::version().unwrap());
    assert_eq!(&first.vpc_id, vpc);
    assert!(
        first.launch_function.starts_with("easytdv-base-launch-"),
        "{}",
        first.launch_function
    );
    assert!(first
        .instance_profile_arn
        .ends_with(&format!(":instance-profile/easytdv-base-{BASE_REGION}")));
    assert!(first.security_group_id.starts_with("sg-"));
    assert!(!first.machine_role_id.is_empty());
    assert!(first
        .machine_folder("i-0abc", "20261206-101500-a1b2c3")
        .starts_with(&format!("easytdv/m/{}:i-0abc/", first.machine_role_id)));
    // Both roles carry the permissions boundary.
    let boundary = format!("arn:aws:iam::{owner}:policy/easytdv-boundary");
    for role in ["instance", "launcher"] {
        let name = format!("easytdv-base-{BASE_REGION}-{role}");
        assert_eq!(
            role_boundary(admin, &name).await.as_deref(),
            Some(boundary.as_str()),
            "{name}"
        );
    }
    // The launcher's code went up under its SHA-256, where the template takes it from.
    let code = list(ctx, name, "easytdv/lambda/").await;
    assert_eq!(code.len(), 1, "{code:?}");

    // Reused: read, never changed.
    let updates = base_calls("UpdateStack", BASE_REGION);
    let again = base::ensure(ctx, &run_bucket, wanted, &quiet)
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(base_calls("CreateStack", BASE_REGION), creates + 1);
    assert_eq!(base_calls("UpdateStack", BASE_REGION), updates);

    // The account's default EBS key became a customer-managed one: the base is
    // outdated and is updated in place, with the app's key (the machines'
    // role and the launcher are kept; the launcher's role gets the key).
    let key = format!("arn:aws:kms:{BASE_REGION}:{owner}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    let with_key = Wanted {
        vpc_id: vpc.clone(),
        ebs_kms_key_arn: Some(key.clone()),
    };
    assert!(matches!(
        base::standing(ctx, &with_key).await.unwrap(),
        Standing::Outdated(_)
    ));
    let updated = base::ensure(ctx, &run_bucket, &with_key, &quiet)
        .await
        .unwrap();
    assert_eq!(base_calls("UpdateStack", BASE_REGION), updates + 1);
    assert_eq!(updated.ebs_kms_key_arn.as_deref(), Some(key.as_str()));
    assert_eq!(updated.machine_role_id, first.machine_role_id);
    assert_eq!(updated.launch_function, first.launch_function);
    // The launcher may now use that key for the machines' disks.
    let launcher = admin
        .iam()
        .get_role_policy()
        .role_name(format!("easytdv-base-{BASE_REGION}-launcher"))
        .policy_name("easytdv-launch")
        .send()
        .await
        .unwrap();
    let document = launcher.policy_document();
    let document = percent_encoding::percent_decode_str(document).decode_utf8_lossy();
    assert!(document.contains(&key), "{document}");
    assert!(matches!(
        base::standing(ctx, &with_key).await.unwrap(),
        Standing::Ready(_)
    ));

    // The machines now start in another VPC: the function is made of it, so
    // the update makes a new function and deletes the old one (a function is
    // never changed in place: the user policy has no lambda:UpdateFunction*).
    let other_vpc = admin
        .ec2()
        .create_vpc()
        .cidr_block("10.9.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .and_then(|v| v.vpc_id())
        .unwrap()
        .to_string();
    let moved = Wanted {
        vpc_id: other_vpc.clone(),
        ebs_kms_key_arn: Some(key.clone()),
    };
    let renewed = base::ensure(ctx, &run_bucket, &moved, &quiet)
        .await
        .unwrap();
    assert_eq!(renewed.vpc_id, other_vpc);
    assert_eq!(renewed.machine_role_id, first.machine_role_id);
    assert!(renewed.launch_function.starts_with("easytdv-base-launch-"));
    assert_ne!(renewed.launch_function, first.launch_function);
    for (function, there) in [
        (&first.launch_function, false),
        (&renewed.launch_function, true),
    ] {
        let found = admin
            .lambda()
            .get_function()
            .function_name(function)
            .send()
            .await;
        assert_eq!(found.is_ok(), there, "{function}: {found:?}");
    }
    let wanted = &moved;

    // The leftovers check does not count it as a run's forgotten resources.
    let found = easytdv_core::scan::region_leftovers(ctx, &[], None)
        .await
        .unwrap();
    assert!(!found.iter().any(|l| l.id == base::STACK_NAME), "{found:?}");

    // Removed: the stack, both roles and the function are gone.
    assert!(base::remove(ctx, &quiet).await.unwrap());
    assert_eq!(
        base::standing(ctx, wanted).await.unwrap(),
        Standing::Missing
    );
    for role in ["instance", "launcher"] {
        let name = format!("easytdv-base-{BASE_REGION}-{role}");
        assert_eq!(role_boundary(admin, &name).await, None, "{name} is gone");
    }
    assert!(
        !base::remove(ctx, &quiet).await.unwrap(),
        "nothing left to remove"
    );
}

/// Something else holds one of the base's names (here a role made by hand):
/// the creation fails with CloudFormation's reason, the failed stack is
/// deleted, and once the name is free the base is created.
#[tokio::test]
async fn a_base_that_cannot_be_created_says_why_and_leaves_no_stack() {
    const REGION: &str = "eu-central-1";
    let f = Fresh::region(REGION, "base-taken").await;
    let (ctx, admin, wanted) = (&f.ctx, &f.admin, &f.wanted);
    let quiet = |_: &str| {};
    let taken = format!("easytdv-base-{REGION}-instance");
    admin
        .iam()
        .create_role()
        .role_name(&taken)
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let run_bucket = f.bucket();
    let err = base::ensure(ctx, &run_bucket, wanted, &quiet)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("InstanceRole"), "{text}");
    assert!(text.contains(&taken), "{text}");
    assert_eq!(
        base::standing(ctx, wanted).await.unwrap(),
        Standing::Missing,
        "the failed stack is deleted"
    );

    admin
        .iam()
        .delete_role()
        .role_name(&taken)
        .send()
        .await
        .unwrap();
    let made = base::ensure(ctx, &run_bucket, wanted, &quiet)
        .await
        .unwrap();
    assert!(made.launch_function.starts_with("easytdv-base-launch-"));
    assert!(base::remove(ctx, &quiet).await.unwrap());
}

/// A machine started by the base's launcher, the run named in its event:
/// the base's profile and security group, the run's tags, and the run's
/// inputs copied into the folder its aws:userid names (outputs and the stop
/// marker left out). tests/policy then holds every call of that machine and
/// of the launcher to base.yaml's roles with the machine's userid.
#[tokio::test]
async fn the_base_launches_a_runs_machine_and_its_inputs_reach_its_own_folder() {
    const REGION: &str = "eu-south-1";
    let f = Fresh::region(REGION, "base-run").await;
    let (ctx, name, vpc, wanted) = (&f.ctx, &f.name, &f.vpc, &f.wanted);
    let quiet = |_: &str| {};
    let run_bucket = f.bucket();
    let made = base::ensure(ctx, &run_bucket, wanted, &quiet)
        .await
        .unwrap();

    let run_id = "20261206-181500-b4e5f6";
    let prefix = format!("easytdv/runs/{run_id}");
    for (key, body) in [
        ("project.json", "{\"files\": []}"),
        ("scripts/train.sh", "echo train"),
        ("outputs/_logs/train/000001.log", "old log"),
    ] {
        run_bucket
            .put(&format!("{prefix}/{key}"), body.as_bytes().to_vec())
            .await
            .unwrap();
    }
    let info = machine::describe_type(ctx, "t3.micro").await.unwrap();
    let ami = machine::resolve_ami(ctx, &info, None).await.unwrap().id;
    let subnets = machine::launch_subnets(ctx, "t3.micro", vpc).await.unwrap();
    let run = base::BaseRun {
        run_id: run_id.into(),
        ami_id: ami,
        instance_type: "t3.micro".into(),
        disk_size_gb: 30,
        max_runtime_hours: 1.0,
        bucket: name.clone(),
        run_prefix: prefix.clone(),
        spot: false,
    };
    let launched = base::launch(ctx, &made, &run, 1, &subnets).await.unwrap();
    let described = ctx
        .ec2()
        .describe_instances()
        .instance_ids(&launched.instance_id)
        .send()
        .await
        .unwrap();
    let instance = &described.reservations()[0].instances()[0];
    assert_eq!(
        instance.iam_instance_profile().and_then(|p| p.arn()),
        Some(made.instance_profile_arn.as_str())
    );
    let groups: Vec<_> = instance
        .security_groups()
        .iter()
        .filter_map(|g| g.group_id())
        .collect();
    assert_eq!(groups, vec![made.security_group_id.as_str()]);
    assert!(instance
        .tags()
        .iter()
        .any(|t| t.key() == Some("easytdv:run-id") && t.value() == Some(run_id)));
    // The same launch asked again is the same machine.
    let again = base::launch(ctx, &made, &run, 1, &subnets).await.unwrap();
    assert_eq!(again.instance_id, launched.instance_id);
    assert!(again.reused);

    let folder = made.machine_folder(&launched.instance_id, run_id);
    let mut written = base::send_inputs(&run_bucket, &prefix, &folder)
        .await
        .unwrap();
    written.sort();
    assert_eq!(
        written,
        vec![
            format!("{folder}/project.json"),
            format!("{folder}/scripts/train.sh")
        ]
    );
    assert_eq!(
        get_text(ctx, name, &format!("{folder}/scripts/train.sh")).await,
        "echo train"
    );

    ctx.ec2()
        .terminate_instances()
        .instance_ids(&launched.instance_id)
        .send()
        .await
        .unwrap();
    assert!(base::remove(ctx, &quiet).await.unwrap());
}

/// Two runs (two windows) needing the base at the same time: one creates it,
/// the other waits for it or finds it made; both get the same base, and only
/// one stack was created.
#[tokio::test]
async fn two_runs_needing_the_base_at_once_share_one() {
    const REGION: &str = "eu-north-1";
    let f = Fresh::region(REGION, "base-twice").await;
    let (ctx, wanted) = (&f.ctx, &f.wanted);
    let quiet = |_: &str| {};
    let run_bucket = f.bucket();
    let created = |calls: &str| {
        calls
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|c| {
                c["operation"] == "CreateStack"
                    && c["region"] == REGION
                    && c["status"] == 200
                    && c["names"]["StackName"] == base::STACK_NAME
            })
            .count()
    };
    let calls_file = hook_json("data-dir", serde_json::json!({}))["calls"]
        .as_str()
        .unwrap()
        .to_string();
    let before = created(&std::fs::read_to_string(&calls_file).unwrap());
    let (a, b) = tokio::join!(
        base::ensure(ctx, &run_bucket, wanted, &quiet),
        base::ensure(ctx, &run_bucket, wanted, &quiet)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b);
    assert_eq!(
        created(&std::fs::read_to_string(&calls_file).unwrap()),
        before + 1
    );
    assert!(base::remove(ctx, &quiet).await.unwrap());
}

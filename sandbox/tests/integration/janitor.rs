use std::collections::HashMap;

use bollard::models::ContainerCreateBody;
use whetstone_sandbox::OrphanScope;

use crate::common::TestSandbox;

#[tokio::test]
async fn docker_janitor_removes_only_this_owners_containers() {
    let t = TestSandbox::new().await;
    let other = TestSandbox::new().await;
    let base = t.base().await;
    // Containers as a crashed process would leave them: labelled, never removed.
    for owner in [t.sandbox.owner(), t.sandbox.owner(), other.sandbox.owner()] {
        let labels = HashMap::from([
            ("whetstone.sandbox".to_owned(), "1".to_owned()),
            ("whetstone.owner".to_owned(), owner.to_owned()),
        ]);
        t.sandbox
            .docker()
            .create_container(
                None::<bollard::query_parameters::CreateContainerOptions>,
                ContainerCreateBody {
                    image: Some(base.as_str().to_owned()),
                    cmd: Some(vec!["true".to_owned()]),
                    labels: Some(labels),
                    ..Default::default()
                },
            )
            .await
            .expect("create orphan");
    }
    assert_eq!(
        t.sandbox
            .list_ours(OrphanScope::ThisOwner)
            .await
            .expect("list")
            .len(),
        2
    );
    assert_eq!(
        t.sandbox
            .remove_orphans(OrphanScope::ThisOwner)
            .await
            .expect("janitor"),
        2
    );
    t.assert_nothing_left().await;
    assert_eq!(
        other
            .sandbox
            .list_ours(OrphanScope::ThisOwner)
            .await
            .expect("list")
            .len(),
        1
    );
    assert_eq!(
        other
            .sandbox
            .remove_orphans(OrphanScope::ThisOwner)
            .await
            .expect("janitor"),
        1
    );
    other.assert_nothing_left().await;
}

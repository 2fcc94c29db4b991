//! The frame of every signed-in page: navigation, title, and the signed-in user
//! ([`Me`]) provided as context to the page's content.

use crate::components::nav::Nav;
use crate::live::Live;
use crate::model::Me;
use crate::server_fns::auth::current_user;
use leptos::prelude::*;
use leptos_meta::Title;

/// A signed-in page. `admin`: only admins see the content (the page's server
/// functions refuse everyone else anyway). The content can read [`Me`] from context.
#[component]
pub fn Page(
    /// Document title and heading.
    title: String,
    /// Admin-only page.
    #[prop(optional)]
    admin: bool,
    /// The content.
    children: ChildrenFn,
) -> impl IntoView {
    let me = Resource::new(|| (), |_| current_user());
    let live = expect_context::<Live>();
    // Effects run only in the browser: this opens the live socket after hydration.
    Effect::new(move |_| live.connect());
    let heading = title.clone();
    view! {
        <Title text=title />
        <Nav me />
        <main class="page">
            <h1>{heading}</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {
                    let children = children.clone();
                    move || {
                        let children = children.clone();
                        Suspend::new(async move {
                            match me.await {
                                Ok(m) if admin && !m.is_admin => {
                                    view! { <p role="alert" class="error">{crate::error::AppError::Forbidden.to_string()}</p> }
                                        .into_any()
                                }
                                Ok(m) => {
                                    provide_context(m);
                                    children().into_any()
                                }
                                Err(e) => view! { <p role="alert" class="error">{e.to_string()}</p> }.into_any(),
                            }
                        })
                    }
                }
            </Suspense>
        </main>
    }
}

/// The signed-in user of the page (a viewer's rights when not known).
pub fn use_me() -> Me {
    use_context::<Me>().unwrap_or(Me { name: String::new(), roles: Vec::new(), can_operate: false, is_admin: false })
}

//! OperatorService: custom search attributes (Add, List, Remove), as
//! Temporal's server manages them with SQL visibility: per namespace, with
//! its validation and messages. Every other RPC answers UNIMPLEMENTED
//! naming itself (generated default stubs).

use crate::errors;
use crate::namespaces::Namespaces;
use crate::search_attributes;
use crate::visibility::fields::system_attributes;
use chronicle_engine::api::operatorservice::v1::*;
use chronicle_proto::operatorservice::operator_service_server::OperatorService;
use chronicle_store::CustomSearchAttributes;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct Operator {
    namespaces: Arc<Namespaces>,
}

type Rpc<T> = Result<Response<T>, Status>;

fn attributes_not_set() -> Status {
    errors::invalid("SearchAttributes are not set on request.")
}

impl Operator {
    pub fn new(namespaces: Arc<Namespaces>) -> Self {
        Operator { namespaces }
    }

    /// Temporal's operator handler words this check differently from the
    /// WorkflowService's ("is not set").
    fn check_namespace(&self, namespace: &str) -> Result<(), Status> {
        if namespace.is_empty() {
            return Err(errors::invalid("Namespace is not set on request."));
        }
        if self.namespaces.get(namespace).is_none() {
            return Err(errors::namespace_not_found(namespace));
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl OperatorService for Operator {
    /// A name registered with the same type is left as it is; with another
    /// type the request fails as a whole (AlreadyExists).
    async fn add_search_attributes(&self, r: Request<AddSearchAttributesRequest>) -> Rpc<AddSearchAttributesResponse> {
        let r = r.into_inner();
        if r.search_attributes.is_empty() {
            return Err(attributes_not_set());
        }
        let mut attributes = CustomSearchAttributes::new();
        for (name, ty) in r.search_attributes {
            let ty = search_attributes::check(&name, ty).map_err(errors::invalid)?;
            attributes.insert(name, ty);
        }
        self.check_namespace(&r.namespace)?;
        let registry = self.namespaces.search_attributes();
        registry.add(&r.namespace, attributes).await.map_err(errors::from_store)?;
        Ok(Response::new(AddSearchAttributesResponse {}))
    }

    async fn remove_search_attributes(
        &self,
        r: Request<RemoveSearchAttributesRequest>,
    ) -> Rpc<RemoveSearchAttributesResponse> {
        let r = r.into_inner();
        if r.search_attributes.is_empty() {
            return Err(attributes_not_set());
        }
        self.check_namespace(&r.namespace)?;
        let registry = self.namespaces.search_attributes();
        let registered = registry.get(&r.namespace);
        for name in &r.search_attributes {
            if registered.contains_key(name) {
                continue;
            }
            return Err(if search_attributes::is_system(name) {
                errors::invalid(format!("Unable to remove non-custom search attributes: {name}."))
            } else {
                errors::not_found(format!("Search attribute {name} doesn't exist."))
            });
        }
        // The store checks again: a concurrent removal loses as NotFound.
        registry.remove(&r.namespace, r.search_attributes).await.map_err(errors::from_store)?;
        Ok(Response::new(RemoveSearchAttributesResponse {}))
    }

    /// The namespace's custom attributes and Temporal's system ones; no
    /// storage schema (Temporal sends one only for Elasticsearch).
    async fn list_search_attributes(
        &self,
        r: Request<ListSearchAttributesRequest>,
    ) -> Rpc<ListSearchAttributesResponse> {
        let r = r.into_inner();
        self.check_namespace(&r.namespace)?;
        let custom = self.namespaces.search_attributes().get(&r.namespace);
        Ok(Response::new(ListSearchAttributesResponse {
            custom_attributes: custom.into_iter().map(|(name, ty)| (name, ty as i32)).collect(),
            system_attributes: system_attributes().map(|(name, ty)| (name.to_string(), ty as i32)).collect(),
            storage_schema: Default::default(),
        }))
    }
}

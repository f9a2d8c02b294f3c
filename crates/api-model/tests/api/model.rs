//! Sanity of the generated tables and the model accessors.

use ferrite_api_model::{HttpMethod, Location, Operation, Service, ShapeKind};

#[test]
fn services_and_signing_names() {
    for service in Service::ALL {
        assert_eq!(
            Service::from_signing_name(service.signing_name()),
            Some(service)
        );
    }
    assert_eq!(Service::IotData.signing_name(), "iotdata");
    assert_eq!(Service::IotJobsData.signing_name(), "iot-jobs-data");
    assert_eq!(Service::from_signing_name("iot-data"), None);
    assert_eq!(Service::Iot.api_version(), "2015-05-28");
}

#[test]
fn tables_are_sorted_and_complete() {
    for service in Service::ALL {
        let shapes = service.shapes();
        assert!(
            shapes.windows(2).all(|w| w[0].name < w[1].name),
            "{service} shapes sorted"
        );
        let ops = service.operations();
        assert!(!ops.is_empty());
        assert!(
            ops.windows(2).all(|w| w[0].name() < w[1].name()),
            "{service} ops sorted"
        );
        for &op in ops {
            assert_eq!(op.service(), service);
            assert_eq!(Operation::from_name(service, op.name()), Some(op));
            for error in op.errors() {
                let (_, shape) = service.shape_by_name(error).unwrap();
                assert!(
                    shape.as_structure().unwrap().error_status.is_some(),
                    "{error}"
                );
            }
        }
    }
    assert_eq!(Service::Iot.operations().len(), 272);
    assert_eq!(Service::IotData.operations().len(), 8);
    assert_eq!(Service::IotJobsData.operations().len(), 5);
    assert_eq!(Operation::from_name(Service::Iot, "NoSuchOperation"), None);
}

#[test]
fn operation_metadata() {
    let op = Operation::CreateThing;
    assert_eq!(
        (op.name(), op.service(), op.method()),
        ("CreateThing", Service::Iot, HttpMethod::Post)
    );
    assert_eq!(op.request_uri(), "/things/{thingName}");
    assert_eq!(op.success_code(), 200);
    assert_eq!(op.input_shape().unwrap().name, "CreateThingRequest");
    assert_eq!(op.output_shape().unwrap().name, "CreateThingResponse");
    assert!(op.errors().contains(&"ResourceAlreadyExistsException"));
    assert_eq!(op.to_string(), "CreateThing");
    assert!(Operation::Publish.output_shape().is_none());
}

#[test]
fn members_carry_their_bindings() {
    let input = Operation::ListCertificates
        .input_shape()
        .unwrap()
        .as_structure()
        .unwrap();
    let ascending = input.member("ascendingOrder").unwrap();
    assert_eq!(ascending.location, Location::Querystring);
    assert_eq!(ascending.wire_name(), "isAscendingOrder");
    let publish = Operation::Publish
        .input_shape()
        .unwrap()
        .as_structure()
        .unwrap();
    let props = publish.member("userProperties").unwrap();
    assert!(props.json_value);
    assert_eq!(
        (props.location, props.wire_name()),
        (Location::Header, "x-amz-mqtt5-user-properties")
    );
    assert_eq!(publish.payload_member().unwrap().name, "payload");
    assert!(publish.member("topic").unwrap().required);
    let thing_name = Service::Iot.shape_by_name("ThingName").unwrap().1;
    let ShapeKind::String(s) = thing_name.kind else {
        panic!("{thing_name:?}")
    };
    assert_eq!((s.min, s.max), (Some(1), Some(128)));
    assert_eq!(
        Service::Iot.pattern(s.pattern.unwrap()).source(),
        "[a-zA-Z0-9:_-]+"
    );
}

#[test]
fn pagination_metadata() {
    let marker = Operation::ListCertificates.paginator().unwrap();
    assert_eq!(marker.input_token, ["marker"]);
    assert_eq!(marker.output_token, ["nextMarker"]);
    assert_eq!(marker.limit_key, Some("pageSize"));
    assert_eq!(marker.result_keys, ["certificates"]);
    let token = Operation::ListThings.paginator().unwrap();
    assert_eq!(
        (token.input_token, token.limit_key),
        (&["nextToken"][..], Some("maxResults"))
    );
    let reports = Operation::ListThingRegistrationTaskReports
        .paginator()
        .unwrap();
    assert_eq!(reports.non_aggregate_keys, ["reportType"]);
    assert!(Operation::CreateThing.paginator().is_none());
    let paginated = Operation::ALL
        .iter()
        .filter(|op| op.paginator().is_some())
        .count();
    assert_eq!(paginated, 65);
}

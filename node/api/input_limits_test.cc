// Field maxima at the API boundary (issue 11): every string and bytes field a
// client can set has a limit from common/limits.h, and a request over one is
// refused with INVALID_ARGUMENT naming the field and the limit.
#include "node/api/input_limits.h"

#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "common/limits.h"

namespace coffer::node {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

void CollectTextFields(const Descriptor* d, std::set<const Descriptor*>* seen,
                       std::set<std::string>* out) {
  if (!seen->insert(d).second) return;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->type() == FieldDescriptor::TYPE_STRING || f->type() == FieldDescriptor::TYPE_BYTES) {
      out->insert(f->full_name());
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      CollectTextFields(f->message_type(), seen, out);
    }
  }
}

TEST(InputLimitsTest, EveryTextFieldAClientCanSetHasALimit) {
  std::set<const Descriptor*> seen;
  std::set<std::string> fields;
  CollectTextFields(pb::Request::descriptor(), &seen, &fields);
  EXPECT_GT(fields.size(), 40u);
  for (const auto& f : fields) EXPECT_GT(InputLimitOf(f), 0u) << f << " has no limit";
}

TEST(InputLimitsTest, HugeCertificateSubjectIsRefusedNamingTheFieldAndLimit) {
  pb::Request request;
  request.set_request_id("r1");
  auto* e = request.mutable_write()->mutable_endpoint_create();
  e->set_name("db01");
  e->set_certificate_subject(std::string(4 * limits::kMiB, 'c'));
  Status s = CheckInputLimits(request);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("write.endpoint_create.certificate_subject"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find(std::to_string(limits::kMaxCertificateSubjectBytes)),
            std::string::npos)
      << s.message();
  e->set_certificate_subject(std::string(limits::kMaxCertificateSubjectBytes, 'c'));
  EXPECT_TRUE(CheckInputLimits(request).ok()) << "exactly at the limit is fine";
}

TEST(InputLimitsTest, RequestIdAttributesMaterialAndCountsAreBounded) {
  pb::Request request;
  request.set_request_id(std::string(limits::kMaxRequestIdBytes + 1, 'r'));
  request.mutable_get()->set_uuid("5e5e5e5e-0000-4000-8000-000000000002");
  EXPECT_EQ(CheckInputLimits(request).code(), Code::kInvalidArgument);
  request.set_request_id("r");
  EXPECT_TRUE(CheckInputLimits(request).ok());

  pb::Request reg;
  reg.set_request_id("r");
  auto* r = reg.mutable_write()->mutable_register_object();
  r->set_material(std::string(limits::kMaxMaterialBytes, 'm'));
  EXPECT_TRUE(CheckInputLimits(reg).ok());
  (*r->mutable_attributes())["x-tag"].set_text(
      std::string(limits::kMaxAttributeTextBytes + 1, 't'));
  Status s = CheckInputLimits(reg);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("text"), std::string::npos) << s.message();
  r->mutable_attributes()->clear();
  for (size_t i = 0; i <= limits::kMaxRepeatedPerRequest; ++i) {
    (*r->mutable_attributes())["x-" + std::to_string(i)].set_text("v");
  }
  EXPECT_EQ(CheckInputLimits(reg).code(), Code::kInvalidArgument) << "too many attributes";
  r->mutable_attributes()->clear();
  r->set_material(std::string(limits::kMaxMaterialBytes + 1, 'm'));
  EXPECT_EQ(CheckInputLimits(reg).code(), Code::kInvalidArgument);

  pb::Request locate;
  (*locate.mutable_locate()->mutable_attributes())[std::string(limits::kMaxNameBytes + 1, 'k')] =
      "v";
  EXPECT_EQ(CheckInputLimits(locate).code(), Code::kInvalidArgument) << "map keys too";
}

}  // namespace
}  // namespace coffer::node

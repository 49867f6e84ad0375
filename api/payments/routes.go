package payments

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/mount"
	"github.com/allot/allot/api/stripepay"
)

// Route paths (gin patterns).
const (
	PayPath            = "/v1/resources/:rid/holds/:hid/payment"
	WebhookPath        = "/v1/payments/stripe/webhook"
	ReconciliationPath = "/v1/payments/reconciliation"
	ReviewPath         = "/v1/resources/:rid/holds/:hid/payment/review"
)

// Routes are the payment routes with their policies, for the edge (api.Config.Mounted). They
// are served whether payments are on or off: off, they answer a problem saying so. A nil
// Service gives the table only (policy tests).
func (s *Service) Routes() []mount.Route {
	return []mount.Route{
		{Method: http.MethodPost, Path: PayPath, Policy: auth.Customer, Handler: s.pay},
		{Method: http.MethodPost, Path: WebhookPath, Policy: auth.Public, Handler: s.webhook},
		{Method: http.MethodGet, Path: ReconciliationPath, Policy: auth.Operator, Handler: s.reconciliation},
		{Method: http.MethodPost, Path: ReviewPath, Policy: auth.Operator, Handler: s.review},
	}
}

func (s *Service) pay(c *gin.Context) {
	user := s.cfg.Subject(c)
	if user == "" {
		s.cfg.Fail(c, booking.Errorf(booking.CodeUnauthenticated, "a payment needs a signed-in user"))
		return
	}
	a, err := s.Pay(c.Request.Context(), c.Param("rid"), c.Param("hid"), user)
	if err != nil {
		s.cfg.Fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store") // the client secret
	c.JSON(http.StatusOK, a)
}

func (s *Service) webhook(c *gin.Context) {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, stripepay.MaxWebhookBody+1))
	if err != nil {
		s.cfg.Fail(c, booking.Errorf(booking.CodeMalformed, "webhook body could not be read"))
		return
	}
	if len(body) > stripepay.MaxWebhookBody {
		s.cfg.Fail(c, booking.Errorf(booking.CodeMalformed, "webhook body too large"))
		return
	}
	if err := s.Webhook(c.Request.Context(), body, c.GetHeader("Stripe-Signature")); err != nil {
		s.cfg.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"received": true})
}

// reviewRequest is an operator's decision; approve is required.
type reviewRequest struct {
	Approve *bool `json:"approve"`
}

func (s *Service) review(c *gin.Context) {
	var req reviewRequest
	dec := json.NewDecoder(io.LimitReader(c.Request.Body, 1<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.cfg.Fail(c, booking.Errorf(booking.CodeMalformed, "the body must be {\"approve\": true|false}"))
		return
	}
	if req.Approve == nil {
		s.cfg.Fail(c, booking.Errorf(booking.CodeInvalid, "approve is required"))
		return
	}
	a, err := s.Review(c.Request.Context(), c.Param("rid"), c.Param("hid"), *req.Approve)
	if err != nil {
		s.cfg.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, a)
}

func (s *Service) reconciliation(c *gin.Context) {
	limit := 200
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			s.cfg.Fail(c, booking.Errorf(booking.CodeInvalid, "limit must be between 1 and 1000"))
			return
		}
		limit = n
	}
	r, err := s.Reconciliation(c.Request.Context(), limit)
	if err != nil {
		s.cfg.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}

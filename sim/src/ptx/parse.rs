//! Tokens → [`ModuleAst`]: the directives, declarations and instruction syntax of PTX (what
//! NVRTC emits and what hand-written PTX commonly uses). Semantics are checked later, when the
//! instructions are compiled.

use super::ast::*;
use super::lex::{parse_number, Number, Tok, Token};

/// A syntax error: the line and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub line: u32,
    pub msg: String,
}

type PResult<T> = Result<T, ParseError>;

struct Parser<'a> {
    toks: &'a [Token],
    i: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a Tok> {
        self.toks.get(self.i).map(|t| &t.tok)
    }

    fn peek_at(&self, k: usize) -> Option<&'a Tok> {
        self.toks.get(self.i + k).map(|t| &t.tok)
    }

    fn line(&self) -> u32 {
        self.toks
            .get(self.i)
            .or_else(|| self.toks.last())
            .map_or(1, |t| t.line)
    }

    fn err<T>(&self, msg: impl Into<String>) -> PResult<T> {
        Err(ParseError {
            line: self.line(),
            msg: msg.into(),
        })
    }

    fn next(&mut self) -> Option<&'a Tok> {
        let t = self.toks.get(self.i).map(|t| &t.tok);
        if t.is_some() {
            self.i += 1;
        }
        t
    }

    fn is_punct(&self, c: char) -> bool {
        self.peek() == Some(&Tok::Punct(c))
    }

    fn eat_punct(&mut self, c: char) -> bool {
        if self.is_punct(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, c: char) -> PResult<()> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            self.expected(&format!("'{c}'"))
        }
    }

    /// The syntax error "expected `what`, found" the next token.
    fn expected<T>(&self, what: &str) -> PResult<T> {
        let found = self.describe();
        self.err(format!("syntax error: expected {what}, found {found}"))
    }

    /// Items separated by `,` up to the closing `close` (the opening one already eaten); an
    /// empty list only if `empty` allows it.
    fn list<T>(
        &mut self,
        close: char,
        empty: bool,
        mut item: impl FnMut(&mut Self) -> PResult<T>,
    ) -> PResult<Vec<T>> {
        let mut items = Vec::new();
        if empty && self.eat_punct(close) {
            return Ok(items);
        }
        loop {
            items.push(item(self)?);
            if self.eat_punct(close) {
                return Ok(items);
            }
            self.expect_punct(',')?;
        }
    }

    /// A type directive (`.u32`, `.f16x2`, …) next, taken into `ty` if it holds none yet.
    fn eat_type(&mut self, ty: &mut Option<String>) -> bool {
        match self.peek() {
            Some(Tok::Ident(s)) if is_type_directive(s) && ty.is_none() => {
                *ty = Some(s.clone());
                self.i += 1;
                true
            }
            _ => false,
        }
    }

    /// `.pragma "…"`'s string (the directive already eaten).
    fn pragma_string(&mut self) -> PResult<()> {
        match self.next() {
            Some(Tok::Str(_)) => Ok(()),
            _ => self.err("syntax error: .pragma needs a string"),
        }
    }

    fn describe(&self) -> String {
        match self.peek() {
            None => "end of file".into(),
            Some(Tok::Ident(s)) | Some(Tok::Num(s)) => format!("'{s}'"),
            Some(Tok::Str(s)) => format!("\"{s}\""),
            Some(Tok::Punct(c)) => format!("'{c}'"),
        }
    }

    fn is_ident(&self, s: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(x)) if x == s)
    }

    fn eat_ident(&mut self, s: &str) -> bool {
        if self.is_ident(s) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> PResult<String> {
        match self.peek() {
            Some(Tok::Ident(s)) => {
                self.i += 1;
                Ok(s.clone())
            }
            _ => self.expected("a name"),
        }
    }

    fn number(&mut self) -> PResult<Number> {
        let neg = self.eat_punct('-');
        match self.peek() {
            Some(Tok::Num(s)) => {
                let line = self.line();
                self.i += 1;
                parse_number(s, neg).ok_or(ParseError {
                    line,
                    msg: format!("syntax error: bad number '{s}'"),
                })
            }
            _ => self.expected("a number"),
        }
    }

    fn uint(&mut self) -> PResult<u64> {
        let line = self.line();
        match self.number()? {
            Number::Int(v) if (v as i64) >= 0 => Ok(v),
            _ => Err(ParseError {
                line,
                msg: "syntax error: expected a non-negative integer".into(),
            }),
        }
    }

    fn u32(&mut self) -> PResult<u32> {
        let line = self.line();
        let v = self.uint()?;
        u32::try_from(v).map_err(|_| ParseError {
            line,
            msg: format!("value {v} out of range"),
        })
    }
}

fn is_type_directive(s: &str) -> bool {
    matches!(
        s,
        ".b8"
            | ".b16"
            | ".b32"
            | ".b64"
            | ".b128"
            | ".u8"
            | ".u16"
            | ".u32"
            | ".u64"
            | ".s8"
            | ".s16"
            | ".s32"
            | ".s64"
            | ".f16"
            | ".f16x2"
            | ".bf16"
            | ".bf16x2"
            | ".f32"
            | ".f64"
            | ".pred"
            | ".tf32"
            | ".e4m3"
            | ".e5m2"
    )
}

/// Parses a whole module.
pub(crate) fn parse(toks: &[Token]) -> Result<ModuleAst, ParseError> {
    let mut p = Parser { toks, i: 0 };
    let mut m = ModuleAst::default();
    while let Some(t) = p.peek() {
        let line = p.line();
        let Tok::Ident(word) = t else {
            let found = p.describe();
            return p.err(format!("syntax error: unexpected {found} at module scope"));
        };
        match word.as_str() {
            ".version" => {
                p.i += 1;
                let v = match p.next() {
                    Some(Tok::Num(s)) => s.clone(),
                    _ => return p.err("syntax error: .version needs MAJOR.MINOR"),
                };
                let (a, b) = v.split_once('.').ok_or(ParseError {
                    line,
                    msg: format!("syntax error: bad .version '{v}'"),
                })?;
                let part = |x: &str| {
                    x.parse().map_err(|_| ParseError {
                        line,
                        msg: format!("bad .version '{v}'"),
                    })
                };
                let ver = (part(a)?, part(b)?);
                m.version = Some((ver, line));
            }
            ".target" => {
                p.i += 1;
                let mut list = vec![p.ident()?];
                while p.eat_punct(',') {
                    list.push(p.ident()?);
                }
                m.target = Some((list, line));
            }
            ".address_size" => {
                p.i += 1;
                let v = p.u32()?;
                m.address_size = Some((v, line));
            }
            ".file" => {
                p.i += 1;
                p.uint()?;
                match p.next() {
                    Some(Tok::Str(_)) => {}
                    _ => return p.err("syntax error: .file needs a file name"),
                }
                while p.eat_punct(',') {
                    p.number()?;
                }
            }
            _ => {
                let mut external = false;
                loop {
                    if p.eat_ident(".visible") || p.eat_ident(".weak") || p.eat_ident(".common") {
                        continue;
                    }
                    if p.eat_ident(".extern") {
                        external = true;
                        continue;
                    }
                    break;
                }
                match p.peek() {
                    Some(Tok::Ident(s)) if s == ".entry" || s == ".func" => {
                        let f = parse_func(&mut p, external)?;
                        m.funcs.push(f);
                    }
                    Some(Tok::Ident(s)) if Space::from_directive(s).is_some() => {
                        let v = parse_var(&mut p, external)?;
                        p.expect_punct(';')?;
                        m.vars.push(v);
                    }
                    Some(Tok::Ident(s)) => {
                        let s = s.clone();
                        return p.err(format!("unknown directive '{s}' at module scope"));
                    }
                    _ => {
                        let found = p.describe();
                        return p.err(format!("syntax error: unexpected {found}"));
                    }
                }
            }
        }
    }
    Ok(m)
}

/// `[.align N] [.vN] .type name[dims] [= init]` after the state space directive.
fn parse_var(p: &mut Parser, external: bool) -> PResult<VarDecl> {
    let line = p.line();
    let space_s = p.ident()?;
    let space = Space::from_directive(&space_s).ok_or(ParseError {
        line,
        msg: format!("unknown state space '{space_s}'"),
    })?;
    let mut align = None;
    let mut vec = 1;
    let mut ty = None;
    loop {
        if p.eat_ident(".align") {
            align = Some(p.u32()?);
        } else if p.eat_ident(".v2") {
            vec = 2;
        } else if p.eat_ident(".v4") {
            vec = 4;
        } else if p.eat_ident(".ptr") || p.eat_ident(".attribute") {
            // `.attribute(.managed)`: skip the parenthesised list.
            if p.eat_punct('(') {
                while !p.eat_punct(')') {
                    if p.next().is_none() {
                        return p.err("syntax error: unterminated .attribute");
                    }
                }
            }
        } else if !p.eat_type(&mut ty) {
            break;
        }
    }
    let Some(ty) = ty else {
        return p.expected("a type in the declaration");
    };
    let name = p.ident()?;
    let dims = parse_dims(p)?;
    let init = if p.eat_punct('=') {
        Some(parse_init(p)?)
    } else {
        None
    };
    Ok(VarDecl {
        line,
        space,
        align,
        ty,
        vec,
        name,
        dims,
        init,
        external,
    })
}

fn parse_dims(p: &mut Parser) -> PResult<Vec<Option<u64>>> {
    let mut dims = Vec::new();
    while p.eat_punct('[') {
        if p.eat_punct(']') {
            dims.push(None);
        } else {
            dims.push(Some(p.uint()?));
            p.expect_punct(']')?;
        }
    }
    Ok(dims)
}

fn parse_init(p: &mut Parser) -> PResult<Init> {
    if p.eat_punct('{') {
        Ok(Init::List(p.list('}', true, parse_init)?))
    } else if matches!(p.peek(), Some(Tok::Ident(_))) {
        let s = p.ident()?;
        p.err(format!(
            "initialiser '{s}': address initialisers are not supported by gpugate-sim"
        ))
    } else {
        Ok(Init::Num(p.number()?))
    }
}

fn parse_param_list(p: &mut Parser) -> PResult<Vec<ParamDecl>> {
    p.expect_punct('(')?;
    p.list(')', true, parse_param)
}

fn parse_param(p: &mut Parser) -> PResult<ParamDecl> {
    let line = p.line();
    let space = p.ident()?;
    if space != ".param" && space != ".reg" {
        return p.err(format!(
            "syntax error: expected .param in a parameter list, found '{space}'"
        ));
    }
    let mut align = None;
    let mut ty = None;
    loop {
        if p.eat_ident(".align") {
            align = Some(p.u32()?);
        } else if p.eat_ident(".ptr")
            || p.eat_ident(".global")
            || p.eat_ident(".const")
            || p.eat_ident(".shared")
            || p.eat_ident(".local")
        {
        } else if !p.eat_type(&mut ty) {
            break;
        }
    }
    let Some(ty) = ty else {
        return p.expected("a parameter type");
    };
    let name = p.ident()?;
    let dims = parse_dims(p)?;
    Ok(ParamDecl {
        line,
        space,
        ty,
        align,
        name,
        dims,
    })
}

fn parse_dim3(p: &mut Parser) -> PResult<(u32, u32, u32)> {
    let x = p.u32()?;
    let mut y = 1;
    let mut z = 1;
    if p.eat_punct(',') {
        y = p.u32()?;
        if p.eat_punct(',') {
            z = p.u32()?;
        }
    }
    Ok((x, y, z))
}

fn parse_func(p: &mut Parser, external: bool) -> PResult<FuncAst> {
    let line = p.line();
    let kind = if p.eat_ident(".entry") {
        FuncKind::Entry
    } else {
        p.ident()?;
        FuncKind::Func
    };
    let mut rets = Vec::new();
    if kind == FuncKind::Func && p.is_punct('(') {
        rets = parse_param_list(p)?;
    }
    let name = p.ident()?;
    let params = if p.is_punct('(') {
        parse_param_list(p)?
    } else {
        Vec::new()
    };
    let mut f = FuncAst {
        line,
        kind,
        name,
        rets,
        params,
        maxntid: None,
        reqntid: None,
        minnctapersm: None,
        maxnreg: None,
        body: None,
    };
    loop {
        if p.eat_ident(".maxntid") {
            f.maxntid = Some(parse_dim3(p)?);
        } else if p.eat_ident(".reqntid") {
            f.reqntid = Some(parse_dim3(p)?);
        } else if p.eat_ident(".minnctapersm") {
            f.minnctapersm = Some(p.u32()?);
        } else if p.eat_ident(".maxnctapersm") {
            p.u32()?;
        } else if p.eat_ident(".maxnreg") {
            f.maxnreg = Some(p.u32()?);
        } else if p.eat_ident(".noreturn") {
        } else if p.eat_ident(".pragma") {
            p.pragma_string()?;
            p.eat_punct(';');
        } else if let Some(Tok::Ident(s)) = p.peek() {
            if s.starts_with('.') && s != ".reg" {
                let s = s.clone();
                return p.err(format!(
                    "unknown performance directive '{s}' on function '{}'",
                    f.name
                ));
            }
            break;
        } else {
            break;
        }
    }
    if p.eat_punct(';') {
        if !external && kind == FuncKind::Entry {
            return p.err(format!("entry '{}' has no body", f.name));
        }
        return Ok(f);
    }
    let blk_line = p.line();
    p.expect_punct('{')?;
    let body = parse_block(p, blk_line)?;
    f.body = Some(body);
    Ok(f)
}

/// Statements up to the closing `}` (already past the opening one).
fn parse_block(p: &mut Parser, open_line: u32) -> PResult<Vec<Stmt>> {
    let mut out = Vec::new();
    loop {
        let line = p.line();
        match p.peek() {
            None => {
                return Err(ParseError {
                    line: open_line,
                    msg: "syntax error: unterminated block".into(),
                })
            }
            Some(Tok::Punct('}')) => {
                p.i += 1;
                return Ok(out);
            }
            Some(Tok::Punct('{')) => {
                p.i += 1;
                let inner = parse_block(p, line)?;
                out.push(Stmt::Block(inner));
            }
            Some(Tok::Punct(';')) => {
                p.i += 1;
            }
            Some(Tok::Ident(s)) if s == ".reg" => {
                p.i += 1;
                parse_reg_decl(p, line, &mut out)?;
            }
            Some(Tok::Ident(s)) if s == ".pragma" => {
                p.i += 1;
                p.pragma_string()?;
                p.expect_punct(';')?;
            }
            Some(Tok::Ident(s)) if s == ".loc" => {
                // `.loc file line column [, function_name label {+ imm}, inlined_at …]`
                p.i += 1;
                while p.line() == line && p.peek().is_some() && !p.is_punct('}') {
                    p.i += 1;
                }
            }
            Some(Tok::Ident(s)) if Space::from_directive(s).is_some() => {
                let v = parse_var(p, false)?;
                p.expect_punct(';')?;
                out.push(Stmt::Var(v));
            }
            Some(Tok::Ident(s)) if s.starts_with('.') => {
                let s = s.clone();
                return p.err(format!("unknown directive '{s}' in a function body"));
            }
            Some(Tok::Ident(s)) if p.peek_at(1) == Some(&Tok::Punct(':')) => {
                out.push(Stmt::Label(s.clone(), line));
                p.i += 2;
            }
            Some(_) => {
                let ins = parse_instr(p)?;
                out.push(Stmt::Instr(ins));
            }
        }
    }
}

fn parse_reg_decl(p: &mut Parser, line: u32, out: &mut Vec<Stmt>) -> PResult<()> {
    let mut ty = None;
    loop {
        match p.peek() {
            Some(Tok::Ident(s)) if s == ".v2" || s == ".v4" => {
                let s = s.clone();
                return p.err(format!("vector registers ({s}) are not supported"));
            }
            _ if p.eat_type(&mut ty) => {}
            _ => break,
        }
    }
    let Some(ty) = ty else {
        return p.err("syntax error: .reg needs a type");
    };
    loop {
        let name = p.ident()?;
        let count = if p.eat_punct('<') {
            let n = p.u32()?;
            p.expect_punct('>')?;
            Some(n)
        } else {
            None
        };
        out.push(Stmt::Reg(RegDecl {
            line,
            ty: ty.clone(),
            name,
            count,
        }));
        if p.eat_punct(';') {
            return Ok(());
        }
        p.expect_punct(',')?;
    }
}

fn parse_instr(p: &mut Parser) -> PResult<InstrAst> {
    let line = p.line();
    let mut guard = None;
    if p.eat_punct('@') {
        let neg = p.eat_punct('!');
        let name = p.ident()?;
        guard = Some((name, neg));
    }
    let opcode = match p.next() {
        Some(Tok::Ident(s)) => s.clone(),
        _ => {
            p.i = p.i.saturating_sub(1);
            return p.expected("an instruction");
        }
    };
    let mut operands = Vec::new();
    if !p.eat_punct(';') {
        loop {
            operands.push(parse_operand(p)?);
            if p.eat_punct(';') {
                break;
            }
            if !p.eat_punct(',') {
                return p.expected(&format!("',' or ';' after an operand of '{opcode}'"));
            }
        }
    }
    Ok(InstrAst {
        line,
        guard,
        opcode,
        operands,
    })
}

fn parse_offset(p: &mut Parser) -> PResult<i64> {
    let mut total = 0i64;
    loop {
        // `+imm`, `+-imm` or `-imm` (number() takes the minus).
        if p.eat_punct('+') || p.is_punct('-') {
            match p.number()? {
                Number::Int(v) => total = total.wrapping_add(v as i64),
                _ => return p.err("syntax error: bad address offset"),
            }
        } else {
            return Ok(total);
        }
    }
}

fn parse_operand(p: &mut Parser) -> PResult<Operand> {
    let first = parse_simple_operand(p)?;
    if p.eat_punct('|') {
        let second = parse_simple_operand(p)?;
        return Ok(Operand::Pair(Box::new(first), Box::new(second)));
    }
    Ok(first)
}

fn parse_simple_operand(p: &mut Parser) -> PResult<Operand> {
    match p.peek() {
        Some(Tok::Punct('{')) => {
            p.i += 1;
            Ok(Operand::Vector(p.list('}', false, parse_simple_operand)?))
        }
        Some(Tok::Punct('(')) => {
            p.i += 1;
            Ok(Operand::List(p.list(')', true, parse_simple_operand)?))
        }
        Some(Tok::Punct('[')) => {
            p.i += 1;
            let base = match p.peek() {
                Some(Tok::Ident(s)) => {
                    p.i += 1;
                    Some(s.clone())
                }
                _ => None,
            };
            let offset = if base.is_none() {
                match p.number()? {
                    Number::Int(v) => v as i64 + parse_offset(p)?,
                    _ => return p.err("syntax error: bad address"),
                }
            } else {
                parse_offset(p)?
            };
            p.expect_punct(']')?;
            Ok(Operand::Addr(AddrExpr { base, offset }))
        }
        Some(Tok::Punct('!')) => {
            p.i += 1;
            Ok(Operand::NotPred(p.ident()?))
        }
        Some(Tok::Punct('-')) | Some(Tok::Num(_)) => Ok(Operand::Imm(p.number()?)),
        Some(Tok::Ident(s)) if s == "_" => {
            p.i += 1;
            Ok(Operand::Sink)
        }
        Some(Tok::Ident(s)) => {
            let s = s.clone();
            p.i += 1;
            let mut off = 0;
            // `A[5]`: an element address (in units of elements; resolved as bytes later is not
            // possible here, so only the `+imm` form is accepted).
            if p.is_punct('+') || (p.is_punct('-') && matches!(p.peek_at(1), Some(Tok::Num(_)))) {
                off = parse_offset(p)?;
            }
            Ok(Operand::Name(s, off))
        }
        _ => {
            let found = p.describe();
            p.err(format!("syntax error: unexpected {found} in an operand"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ptx::lex::lex;

    #[test]
    fn parses_entry() {
        let src = r#"
.version 8.0
.target sm_52
.address_size 64
.global .align 4 .u32 g = 2;
.global .align 8 .b8 bytes[8] = {1, 0, 0, 0, 0, 0, 0, 0};
.visible .entry k(
	.param .u64 k_param_0,
	.param .u32 k_param_1
)
.maxntid 256, 1, 1
.minnctapersm 2
{
	.reg .pred 	%p<3>;
	.reg .b64 	%rd<4>;
	.shared .align 4 .b8 sm[1024];
	ld.param.u64 	%rd1, [k_param_0];
	@!%p1 bra 	$L__BB0_2;
	ld.global.nc.v4.f32 	{%f1, %f2, %f3, %f4}, [%rd1+-16];
	shfl.sync.down.b32 	%r1|%p2, %r2, 16, 31, -1;
$L__BB0_2:
	ret;
}
"#;
        let m = parse(&lex(src).unwrap()).unwrap();
        assert_eq!(m.version.unwrap().0, (8, 0));
        assert_eq!(m.vars.len(), 2);
        let f = &m.funcs[0];
        assert_eq!(f.maxntid, Some((256, 1, 1)));
        assert_eq!(f.minnctapersm, Some(2));
        let body = f.body.as_ref().unwrap();
        assert!(matches!(&body[0], Stmt::Reg(r) if r.count == Some(3)));
        let Stmt::Instr(i) = &body[5] else { panic!() };
        assert_eq!(
            i.operands[1],
            Operand::Addr(AddrExpr {
                base: Some("%rd1".into()),
                offset: -16
            })
        );
    }
}
